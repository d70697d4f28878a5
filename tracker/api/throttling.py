"""Rate limits, counted in the Django cache (Redis in production, so every process shares them).

DRF answers 429 with ``Retry-After``. Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
and are read per request, so settings overrides apply.
"""

from __future__ import annotations

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tracker.models import TeamAPIKey

logger = logging.getLogger(__name__)


class _SettingsRate(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        # A cache outage (Redis down) must not take ingestion down with it: let requests
        # through unthrottled until the cache is back.
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("Throttle cache unavailable; request allowed", exc_info=True)
            return True


class APIKeyRateThrottle(_SettingsRate):
    """Per key."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, TeamAPIKey):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return None


class PersonRateThrottle(_SettingsRate):
    """Per signed-in person."""

    scope = "user"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, TeamAPIKey) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}

"""Rate limits, counted in the Django cache (Redis in production, so every process shares them).

DRF answers 429 with ``Retry-After``. Rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``
and are read per request, so settings overrides apply.
"""

from __future__ import annotations

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from tracker.models import TeamAPIKey

logger = logging.getLogger(__name__)


#: Set on a request once the cache failed it, so a hung cache costs one timeout, not one per
#: throttle.
CACHE_FAILED = "_tunefolio_throttle_cache_failed"


class _SettingsRate(SimpleRateThrottle):
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        # A cache outage (Redis down or hung) must not take ingestion down with it: let
        # requests through unthrottled until the cache is back.
        if getattr(request, CACHE_FAILED, False):
            return True
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("Throttle cache unavailable; request allowed", exc_info=True)
            setattr(getattr(request, "_request", request), CACHE_FAILED, True)
            return True


class APIKeyRateThrottle(_SettingsRate):
    """Per key, counted under the key's public prefix (its primary key holds the hash)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, TeamAPIKey):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.prefix}
        return None


class PersonRateThrottle(_SettingsRate):
    """Per signed-in person."""

    scope = "user"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, TeamAPIKey) or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


def client_ip(request) -> str:
    """The client's address: ``REMOTE_ADDR``, or with ``NUM_PROXIES`` trusted proxies in front,
    the address they put in ``X-Forwarded-For`` (never a client's own, which anyone can forge).
    Failed API keys and django-axes (admin sign-ins) both count per this address."""
    return BaseThrottle().get_ident(request) or ""


class FailedAPIKeyThrottle(_SettingsRate):
    """Failed API-key authentications per client address. Past the rate, every key from that
    address is refused (429) without being checked until the window passes: checking it would
    tell a guesser whether the guess was right."""

    scope = "failed_api_key"
    # Set from the rate by SimpleRateThrottle.__init__ (not declared in the stubs).
    num_requests: int
    duration: int

    def get_ident(self, request) -> str:
        return client_ip(request)

    def get_cache_key(self, request, view=None):
        if self.rate is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def retry_after(self, request) -> float | None:
        """Seconds before this address may present a key again; ``None`` while it may."""
        self.key = self.get_cache_key(request)
        if self.key is None:
            return None
        try:
            self.history = self.cache.get(self.key, [])
        except Exception:
            logger.warning("Throttle cache unavailable; key checked anyway", exc_info=True)
            setattr(request, CACHE_FAILED, True)
            self.key = None
            return None
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return self.wait() if len(self.history) >= self.num_requests else None

    def record_failure(self) -> None:
        """Count one failed key for the address :meth:`retry_after` just looked up."""
        if self.key is None:
            return
        try:
            self.throttle_success()  # DRF's name for "add this request to the window"
        except Exception:
            logger.warning("Throttle cache unavailable; failure not counted", exc_info=True)

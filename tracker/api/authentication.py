"""Who is calling: a team's API key (``X-Api-Key``) or a person with a session.

A key belongs to one team and carries scopes (ingest, read, write, catalog). A person sees the
teams they are a member of (superusers: every team) and may do everything there (the shared
catalog's writes need their Django permission: ``permissions``); a person in no team may only
read the shared catalog. :func:`get_caller` gives views one object for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework_api_key.permissions import KeyParser

from tracker.models import TeamAPIKey

from .throttling import FailedAPIKeyThrottle

ALL_SCOPES = frozenset({"ingest", "read", "write"})


class KeyUser:
    """``request.user`` for a request made with an API key: authenticated, but nobody."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: TeamAPIKey):
        self.api_key = api_key
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username


class APIKeyAuthentication(authentication.BaseAuthentication):
    """``X-Api-Key: <prefix>.<secret>``; keys are stored hashed, revocable, and may expire."""

    key_parser = KeyParser()
    keyword = "Api-Key"

    def authenticate(self, request):
        key = self.key_parser.get(request._request)
        if not key:
            return None
        throttle = FailedAPIKeyThrottle()
        wait = throttle.retry_after(request._request)
        if wait is not None:
            raise exceptions.Throttled(
                wait,
                detail="Too many invalid API keys from your address; no key is checked until "
                "the wait is over.",
                code="too_many_invalid_keys",
            )
        prefix, _, _ = key.partition(".")
        api_key = (
            TeamAPIKey.objects.get_usable_keys()
            .select_related("team")
            .filter(prefix=prefix[:8])
            .first()
            if prefix and len(prefix) <= 8 and prefix.isascii() and prefix.isalnum()
            else None
        )
        if api_key is None or api_key.has_expired or not api_key.is_valid(key):
            throttle.record_failure()
            raise exceptions.AuthenticationFailed(
                "Invalid, revoked or expired API key.", code="invalid_api_key"
            )
        return KeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="tunefolio", header="X-Api-Key"'


@dataclass(frozen=True)
class Caller:
    """What a request may see and do."""

    scopes: frozenset[str]
    #: The teams whose data the caller sees; ``None`` for every team (superusers).
    team_ids: frozenset[int] | None
    api_key: TeamAPIKey | None = None
    user: Any = None

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"api key {self.api_key.name}"[:150]
        return getattr(self.user, "get_username", lambda: "")()[:150]


def get_caller(request) -> Caller:
    """The caller of an authenticated request (cached on the request)."""
    caller = getattr(request, "_tunefolio_caller", None)
    if caller is not None:
        return caller
    if isinstance(request.auth, TeamAPIKey):
        key = request.auth
        caller = Caller(frozenset(key.scopes()), frozenset({key.team_id}), api_key=key)
    else:
        user = request.user
        if user.is_superuser:
            caller = Caller(ALL_SCOPES, None, user=user)
        else:
            team_ids = frozenset(user.teams.values_list("pk", flat=True))
            caller = Caller(ALL_SCOPES if team_ids else frozenset({"read"}), team_ids, user=user)
    request._tunefolio_caller = caller
    return caller

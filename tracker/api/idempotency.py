"""The ``Idempotency-Key`` header on POSTs: a retry gets the first response, not a second write."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from tracker.services.idempotency import (
    IdempotencyConflict,
    legacy_request_hash,
    request_hash,
    run_once,
)

from .authentication import get_caller
from .errors import IdempotencyKeyReused, InvalidInput

HEADER = "Idempotency-Key"
KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"
REPLAYED_HEADER = "Idempotent-Replayed"


def _as_json(body) -> object:
    return json.loads(JSONRenderer().render(body))


def _scope(request, key: str) -> tuple[int, str]:
    """The team the key is recorded under, and the key as stored. A key is per team; a person's
    keys are kept apart from the team's machines' keys."""
    caller = get_caller(request)
    if caller.api_key is not None:
        return caller.api_key.team_id, key
    from tracker.selectors.access import visible_teams

    team = visible_teams(caller.team_ids).order_by("pk").first()
    if team is None:
        raise InvalidInput(
            "An Idempotency-Key is kept per team, and you belong to none.",
            [{"row": None, "field": HEADER, "message": "Send the request without it."}],
        )
    return team.pk, f"user:{caller.user.pk}:{key}"


def idempotent(request, action: Callable[[], tuple[int, object]]) -> Response:
    """Run ``action`` (returning status and body) at most once per ``Idempotency-Key``."""
    key = request.headers.get(HEADER)
    if key is None:
        status_code, body = action()
        return Response(body, status=status_code)
    if not re.fullmatch(KEY_PATTERN, key):
        raise InvalidInput(
            "Invalid Idempotency-Key.",
            [{"row": None, "field": HEADER, "message": "1 to 200 printable ASCII characters."}],
        )
    team_id, stored_key = _scope(request, key)
    method, path = request.method, request.get_full_path()
    digest = request_hash(method, path, request.data)

    def run() -> tuple[int, object]:
        status_code, body = action()
        return status_code, _as_json(body)

    try:
        outcome = run_once(
            team_id=team_id,
            key=stored_key,
            digest=digest,
            action=run,
            legacy_digest=lambda: legacy_request_hash(method, path, request.data),
        )
    except IdempotencyConflict as exc:
        raise IdempotencyKeyReused() from exc
    response = Response(outcome.body, status=outcome.status_code)
    if outcome.replayed:
        response[REPLAYED_HEADER] = "true"
    return response

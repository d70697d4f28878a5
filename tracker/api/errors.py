"""One error envelope for every 4xx the API returns.

``{"error": {"code": "...", "message": "...",
"details": [{"row": .., "field": .., "message": ..}]}}``

``code`` is a stable machine code, ``message`` a sentence for people, ``details`` the individual
problems: ``row`` is the index of a usage record in a batch (``null`` elsewhere) and ``field`` the
field (a dotted path for nested input; ``null`` for the request or row as a whole).
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail

from tracker.services.errors import Conflict as DomainConflict


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class IdempotencyKeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used with a different request; use a new key for a "
        "new request."
    )
    default_code = "idempotency_key_reused"


class InvalidInput(exceptions.APIException):
    """A 400 with details already itemised (row, field, message)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request is invalid."
    default_code = "invalid"

    def __init__(self, message: str, details: list[dict], code: str = "invalid"):
        super().__init__(detail=message, code=code)
        self.details = details


def envelope(code: str, message: str, details: list[dict] | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def detail_item(path: tuple, message: str) -> dict:
    """``("records", 3, "day")`` → row 3, field "day"; other paths become a dotted field."""
    row = None
    if len(path) >= 2 and path[0] == "records" and isinstance(path[1], int):
        row, path = path[1], path[2:]
    parts = [p for p in path if p not in ("non_field_errors", "__all__")]
    field = ""
    for part in parts:
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return {"row": row, "field": field or None, "message": str(message)}


def flatten(detail, path: tuple = ()) -> list[dict]:
    """DRF's nested validation errors as a flat list of detail items."""
    if isinstance(detail, dict):
        items = []
        for key, value in detail.items():
            key = int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else key
            items += flatten(value, (*path, key))
        return items
    if isinstance(detail, list):
        if all(not isinstance(v, (dict, list)) for v in detail):
            return [detail_item(path, v) for v in detail]
        items = []
        for index, value in enumerate(detail):
            items += flatten(value, (*path, index))
        return items
    return [detail_item(path, detail)]


def _describe(exc: Exception) -> tuple[str, str, list[dict]]:
    if isinstance(exc, InvalidInput):
        return str(getattr(exc.detail, "code", "invalid")), str(exc.detail), exc.details
    if isinstance(exc, exceptions.ValidationError):
        details = flatten(exc.detail)
        count = len(details)
        message = f"The request is invalid ({count} error{'s' if count != 1 else ''})."
        return "invalid", message, details
    if isinstance(exc, Http404):
        return "not_found", "Not found.", []
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        if isinstance(detail, (list, dict)):
            return exc.default_code, str(exc.default_detail), flatten(detail)
        return getattr(detail, "code", None) or exc.default_code, str(detail), []
    return "error", str(exc), []


def exception_handler(exc, context):
    """DRF's handler, with Django's own exceptions mapped and every 4xx in the envelope."""
    # Imported here: rest_framework.views loads the API settings, which import this package.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=get_error_detail(exc))
    elif isinstance(exc, DomainConflict):
        exc = Conflict(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code, message, details = _describe(exc)
    response.data = envelope(code, message, details)
    return response


def api_aware_404(request, exception=None):
    """Django's 404 for pages; the envelope for unknown paths under /api/."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            envelope("not_found", f"No API endpoint at {request.path}."), status=404
        )
    return defaults.page_not_found(request, exception)

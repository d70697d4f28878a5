"""What every response under ``/api/`` shares, whatever produced it.

DRF's exception handler puts the errors of the API's own views in the envelope; this middleware
does the same for the answers Django gives before or after them: an unknown path (with DEBUG on,
Django's HTML debug page), an unhandled exception (Django's 500 page, or the debug page with its
traceback and SQL), a bad Host header. Django still logs those as usual; the client gets the
envelope and nothing more. API answers are never cached: they carry one team's data.

A request body sent chunked (``Transfer-Encoding: chunked``, no ``Content-Length``) gets 411 on
every path: the WSGI server hands Django no length, Django would read the body as empty, and the
size limit is checked against ``Content-Length`` before anything is read.
"""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

from .errors import envelope

API_PREFIX = "/api/"

LENGTH_REQUIRED = (
    "Send the body with a Content-Length header: chunked request bodies (Transfer-Encoding: "
    "chunked) are not read, and would otherwise be taken as empty."
)

_CODES = {
    400: ("bad_request", "The request is malformed."),
    403: ("permission_denied", "You may not do this."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is too large."),
    500: ("server_error", "Something went wrong on our side. It is logged; try again later."),
    502: ("bad_gateway", "A service this API needs did not answer."),
    503: ("unavailable", "The API is unavailable; try again later."),
}


def _chunked_without_length(request) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in encoding.lower() and not request.META.get("CONTENT_LENGTH")


def _is_json(response) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


def _envelope_response(request, response) -> JsonResponse:
    status = response.status_code
    if status == 404:
        code, message = "not_found", f"No API endpoint at {request.path}."
    else:
        code, message = _CODES.get(status, ("server_error" if status >= 500 else "error", ""))
        message = message or f"The request failed ({status})."
    replacement = JsonResponse(envelope(code, message), status=status)
    # Keep what other middleware said (Allow, Vary, security headers), not the page's body.
    for header, value in response.items():
        if header.lower() not in {"content-type", "content-length"}:
            replacement[header] = value
    replacement["Content-Length"] = str(len(replacement.content))
    return replacement


class ApiResponseMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        is_api = request.path.startswith(API_PREFIX)
        if _chunked_without_length(request):
            if is_api:
                response = JsonResponse(envelope("length_required", LENGTH_REQUIRED), status=411)
                response["Content-Length"] = str(len(response.content))
            else:
                response = HttpResponse(LENGTH_REQUIRED, status=411, content_type="text/plain")
        else:
            response = self.get_response(request)
        if not is_api:
            return response
        if response.status_code >= 400 and not _is_json(response):
            response = _envelope_response(request, response)
        patch_cache_control(response, no_store=True)
        return response

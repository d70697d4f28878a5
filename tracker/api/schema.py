"""The OpenAPI schema's additions: the API-key security scheme, the ``Idempotency-Key`` header,
and the error envelope on every operation for the 4xx it can answer."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter

from .fields import NO_NUL_PATTERN
from .idempotency import HEADER, KEY_PATTERN

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    type={"type": "string", "pattern": KEY_PATTERN, "maxLength": 200},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Send the same key when retrying: the first successful response is replayed "
    "(with `Idempotent-Replayed: true`) and nothing is written twice. The same key with a "
    "different request gets 422. Keys are kept per team for 24 hours.",
)


class APIKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tracker.api.authentication.APIKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": "A team API key (`prefix.secret`), shown once when created in the "
            "admin. Its scopes (ingest, read, write) decide what it may do.",
        }


ERROR_ENVELOPE = {
    "type": "object",
    "description": "Every 4xx answer has this shape.",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {
                    "type": "string",
                    "description": "A stable machine code: invalid, invalid_batch, parse_error, "
                    "not_authenticated, authentication_failed, invalid_api_key, "
                    "permission_denied, missing_scope, not_found, method_not_allowed, "
                    "not_acceptable, conflict, payload_too_large, unsupported_media_type, "
                    "idempotency_key_reused, throttled.",
                },
                "message": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["row", "field", "message"],
                        "properties": {
                            "row": {
                                "type": "integer",
                                "nullable": True,
                                "description": "The record's index in a usage batch.",
                            },
                            "field": {"type": "string", "nullable": True},
                            "message": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

_REASONS = {
    "400": "Invalid input: every problem is listed in `details`; nothing was written.",
    "401": "No credentials, or a bad API key.",
    "403": "Not allowed: a missing scope, or a session without its CSRF token.",
    "404": "Not found, or not one of your teams'.",
    "406": "Only application/json is served.",
    "409": "Conflicts with the resource's state.",
    "413": "The body is too large.",
    "415": "Send application/json.",
    "422": "The Idempotency-Key was used for a different request.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
}
STRICT_OBJECTS = ("UsageBatchInputRequest", "UsageRecordInputRequest")
_ALWAYS = ("400", "401", "403", "404", "406", "429")
_WITH_BODY = ("413", "415")
_POST = ("409", "422")


def _add_no_nul_patterns(node) -> None:
    """Strings the API stores cannot hold NUL bytes; say so wherever nothing stricter is said."""
    if isinstance(node, dict):
        if (
            node.get("type") == "string"
            and not {"pattern", "format", "enum"} & node.keys()
            and not node.get("readOnly")
        ):
            node["pattern"] = NO_NUL_PATTERN
        for value in node.values():
            _add_no_nul_patterns(value)
    elif isinstance(node, list):
        for value in node:
            _add_no_nul_patterns(value)


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: the envelope component and the 4xx responses of each operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorEnvelope"] = ERROR_ENVELOPE
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _add_no_nul_patterns(schema)
    # A usage batch refuses unknown fields (a typo must not pass as a missing optional value).
    for name in STRICT_OBJECTS:
        if name in schemas:
            schemas[name]["additionalProperties"] = False
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _add_no_nul_patterns(parameter.get("schema"))
            codes = list(_ALWAYS)
            if "requestBody" in operation:
                codes += _WITH_BODY
            if method == "post":
                codes += _POST
            responses = operation.setdefault("responses", {})
            for code in codes:
                if code in responses:
                    continue
                response = {
                    "description": _REASONS[code],
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}
                        }
                    },
                }
                if code == "429":
                    response["headers"] = {
                        "Retry-After": {
                            "schema": {"type": "integer", "minimum": 0},
                            "description": "Seconds to wait before retrying.",
                        }
                    }
                responses[code] = response
    return result

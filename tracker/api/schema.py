"""The OpenAPI schema's additions: the API-key security scheme, the ``Idempotency-Key`` header,
the error envelope on every operation for each 4xx/5xx it can answer (with the business rules
behind each operation's 400 and 409), and what input serializers enforce but drf-spectacular
does not say (no unknown fields, a usage batch's size)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter

from tracker.services import usage

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
    "description": "Every 4xx and 5xx answer under /api/ has this shape (a 5xx says no more "
    "than that something failed: no traceback, no SQL).",
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
                    "length_required, idempotency_key_reused, throttled, server_error.",
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
    "411": "A chunked body without Content-Length: send the length.",
    "413": "The body is too large.",
    "415": "Send application/json.",
    "422": "The Idempotency-Key was used for a different request.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "500": "An unexpected failure on the server (logged); the envelope has no more detail.",
}
_ALWAYS = ("400", "401", "403", "404", "406", "429", "500")
_WITH_BODY = ("411", "413", "415")
_WITH_IDEMPOTENCY_KEY = ("422",)

_FUTURE = "the day is in the future"
#: The rules a JSON schema cannot state, per operation: why schema-valid input still gets a 400
#: (or a 409). The 400 of every other operation is schema violations only.
BUSINESS_RULES: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/api/v1/tunes/"): {
        "400": "Besides schema violations: the slug is taken; the owner is not a member of the "
        "team; a catalog id does not exist; the team is not yours (an API key registers in its "
        "own team and must name the owner); the tune's own constraints (e.g. dates in order).",
    },
    ("patch", "/api/v1/tunes/{slug}/"): {
        "400": "Besides schema violations: the owner is not a member of the tune's team; a "
        "catalog id does not exist; the tune's own constraints.",
    },
    ("post", "/api/v1/tunes/{slug}/retire/"): {"400": f"Besides schema violations: {_FUTURE}."},
    ("post", "/api/v1/tunes/{slug}/changes/"): {"400": f"Besides schema violations: {_FUTURE}."},
    ("post", "/api/v1/tunes/{slug}/serving-prices/"): {
        "400": "Besides schema violations: the price does not start after the last one.",
    },
    ("post", "/api/v1/tunes/{slug}/evaluate/"): {
        "400": f"Besides schema violations: {_FUTURE}.",
        "409": "The tune is retired: retired tunes are not evaluated.",
    },
    ("post", "/api/v1/usage/"): {
        "400": "Every problem of the batch, by record index and field; nothing was written. "
        "Besides schema violations: a tune that is not your teams'; a day in the future; two "
        "records with the same tune, day and source (a record without `source` takes the "
        "batch's).",
    },
    ("post", "/api/v1/catalog/"): {
        "400": "Besides schema violations: the provider, name and version exist already; the "
        "successor does not exist; the shutdown is before the release.",
    },
    ("patch", "/api/v1/catalog/{model_id}/"): {
        "400": "Besides schema violations: the provider, name and version exist already; the "
        "successor does not exist or is the model itself; the shutdown is before the release.",
    },
    ("post", "/api/v1/catalog/{model_id}/prices/"): {
        "400": "Besides schema violations: the price does not start after the last one.",
    },
}


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
        # Every write body refuses unknown fields (a typo must not pass as an omitted field).
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    batch = schemas.get("UsageBatchInputRequest", {}).get("properties", {}).get("records")
    if batch is not None:
        batch["minItems"] = usage.BATCH_MIN_RECORDS
        batch["maxItems"] = usage.batch_max_records()
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query":
                    _add_no_nul_patterns(parameter.get("schema"))
            rules = BUSINESS_RULES.get((method, path), {})
            codes = [*_ALWAYS, *rules]
            if "requestBody" in operation:
                codes += _WITH_BODY
            if any(p.get("name") == HEADER for p in operation.get("parameters", [])):
                codes += _WITH_IDEMPOTENCY_KEY
            responses = operation.setdefault("responses", {})
            for code in sorted(set(codes)):
                if code in responses:
                    continue
                response = {
                    "description": rules.get(code, _REASONS[code]),
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

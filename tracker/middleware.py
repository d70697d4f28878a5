"""Middleware of our own."""

from __future__ import annotations

from .views import healthz, readyz

#: Probes answered before the host check and the HTTPS redirect.
PROBES = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answers the liveness and readiness probes before the host check and the HTTPS redirect.

    The probes come from inside the container, over plain HTTP to 127.0.0.1, whatever
    ``DJANGO_ALLOWED_HOSTS`` and ``DJANGO_SECURE_SSL_REDIRECT`` say. Every other path goes
    through the checks as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)

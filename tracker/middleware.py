"""Middleware of our own."""

from __future__ import annotations

from django.urls import resolve

#: Probes answered before the host check and the HTTPS redirect (their views are in urls.py).
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class HealthCheckMiddleware:
    """Answers the liveness and readiness probes before the host check and the HTTPS redirect.

    The probes come from inside the container, over plain HTTP to 127.0.0.1, whatever
    ``DJANGO_ALLOWED_HOSTS`` and ``DJANGO_SECURE_SSL_REDIRECT`` say. The view is the one the
    URLconf names, so request metrics label it as usual. Every other path goes through the
    checks as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in PROBE_PATHS and request.method in ("GET", "HEAD"):
            request.resolver_match = resolve(request.path_info)
            return request.resolver_match.func(request)
        return self.get_response(request)

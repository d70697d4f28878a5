"""Middleware of our own."""

from __future__ import annotations

from .views import healthz

HEALTH_PATH = "/healthz"


class HealthCheckMiddleware:
    """Answers the liveness probe before the host check and the HTTPS redirect.

    The probe comes from inside the container, over plain HTTP to 127.0.0.1, whatever
    ``DJANGO_ALLOWED_HOSTS`` and ``DJANGO_SECURE_SSL_REDIRECT`` say; it only learns whether the
    database answers. Every other path goes through the checks as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == HEALTH_PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)

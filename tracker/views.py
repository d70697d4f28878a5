from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tracker import metrics as prometheus
from tracker.selectors import digest as digest_selectors
from tracker.selectors import operations
from tracker.services import digest as digest_services


@never_cache
def healthz(request):
    """Liveness: the process serves requests. No dependency is checked, so an outage of the
    database or the broker never gets healthy web processes restarted."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Readiness: the database, the broker and a recent nightly run. 503 names what fails."""
    ready, checks = operations.readiness()
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status=200 if ready else 503,
    )


@csrf_exempt  # mail clients POST the one-click unsubscribe (RFC 8058) without a CSRF token
@require_http_methods(["GET", "POST"])
def digest_unsubscribe(request, token: str):
    """The List-Unsubscribe target. GET asks (link scanners open links); POST unsubscribes,
    whether from the mail client's one-click button or the page's form. The signed token is the
    only credential: it names one user and cannot be forged without the secret key."""
    user_id = digest_services.user_id_from_token(token)
    user = digest_selectors.digest_recipient(user_id) if user_id is not None else None
    if user is None:
        raise Http404("Unknown or tampered unsubscribe link.")
    done = request.method == "POST"
    if done:
        digest_services.set_weekly_digest(user_id=user.pk, enabled=False)
    return render(request, "tracker/unsubscribe.html", {"email": user.email, "done": done})


def signin_locked(request, original_response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in: who is locked, for how long, what to do."""
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
    }
    return render(request, "tracker/lockout.html", context, status=429)


@never_cache
def metrics(request):
    """Prometheus scrape target (see tracker.metrics for what is measured and how)."""
    if not prometheus.scrape_allowed(request):
        response = JsonResponse({"error": "A valid bearer token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return prometheus.metrics_response()

from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Liveness for the load balancer and docker compose: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})

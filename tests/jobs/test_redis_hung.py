"""A hung Redis (up, accepting connections, answering nothing: SIGSTOP) must not hang the web app.

The cache and the broker are a real redis-server of the test's own, configured with the
timeouts from settings. The bounds checked are the requirement itself (an API answer within a
second, the admin's action within three), not a speed goal.
"""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.api.helpers import key_client, make_key
from tests.jobs import portfolio
from tracker.models import Evaluation

from .conftest import web_app_on

pytestmark = [pytest.mark.redis]

DAY = date(2026, 3, 2)


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def reevaluate_now(client, ids):
    return client.post(
        reverse("admin:tracker_finetune_changelist"),
        {"action": "reevaluate_now", "_selected_action": [str(i) for i in ids]},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_settings_bound_every_redis_wait():
    from django.conf import settings

    assert settings.REDIS_CACHE_OPTIONS["socket_connect_timeout"] <= 0.25
    assert settings.REDIS_CACHE_OPTIONS["socket_timeout"] <= 0.25
    assert settings.CELERY_TASK_PUBLISH_RETRY_POLICY["max_retries"] <= 3
    assert settings.CELERY_BROKER_CONNECTION_TIMEOUT <= 1


@pytest.mark.django_db(transaction=True)
def test_a_hung_redis_costs_api_requests_under_a_second_and_the_admin_says_nothing_was_queued(
    own_redis, staff_client, settings
):
    tune = portfolio.build(DAY, ("keep",))["keep"]
    api = key_client(make_key(tune.team))
    with web_app_on(own_redis.url, settings), time_machine.travel(DAY + timedelta(days=3)):
        # Healthy first, as a running web app is: its cache and broker connections are open.
        assert api.get("/api/v1/tunes/").status_code == 200
        assert any("queued" in m for m in messages_of(reevaluate_now(staff_client, [tune.pk])))
        assert own_redis.client().llen(settings.CELERY_TASK_DEFAULT_QUEUE) == 1

        own_redis.pause()
        try:
            for _ in range(3):
                response, seconds = timed(lambda: api.get("/api/v1/tunes/"))
                assert response.status_code == 200, response.content
                assert response.json()["results"][0]["slug"] == tune.slug
                assert seconds < 1, f"an API request took {seconds:.2f}s with Redis hung"

            response, seconds = timed(lambda: reevaluate_now(staff_client, [tune.pk]))
            assert response.status_code == 200
            assert seconds < 3, f"Re-evaluate now took {seconds:.2f}s with Redis hung"
            text = messages_of(response)
            assert any("Nothing was queued" in m for m in text), text
        finally:
            own_redis.resume()
        # (A command the hung server had already received may still run once it resumes: the
        # evaluation is an upsert per tune and day, so a late task changes nothing.)
        assert api.get("/api/v1/tunes/").status_code == 200  # and all is well again
    assert not Evaluation.objects.exists()  # nothing ran: there is no worker

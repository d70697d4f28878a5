from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from .demo import load_evaluated_demo


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def demo(db, frozen):
    load_evaluated_demo()


@pytest.fixture
def login(client):
    from django.contrib.auth import get_user_model

    def as_user(username: str):
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return as_user

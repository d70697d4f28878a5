from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from .demo import load_evaluated_demo

DEMO_NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(DEMO_NOW, tick=False):
        yield


@pytest.fixture(scope="module")
def evaluated_demo(module_transaction, django_db_blocker):
    """The demo portfolio, loaded and evaluated once for the module (it takes about a second)."""
    with django_db_blocker.unblock(), time_machine.travel(DEMO_NOW, tick=False):
        load_evaluated_demo()


@pytest.fixture
def demo(evaluated_demo, db, frozen):
    """The demo portfolio; what the test changes in it is rolled back after the test."""


@pytest.fixture
def login(client):
    from django.contrib.auth import get_user_model

    def as_user(username: str):
        client.force_login(get_user_model().objects.get(username=username))
        return client

    return as_user

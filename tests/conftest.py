from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-password")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(scope="module")
def module_transaction(django_db_setup, django_db_blocker):
    """One transaction around a whole test module, rolled back after its last test.

    Rows a module-scoped fixture writes inside it are written once and read by every test of the
    module; each test's own transaction (the ``db`` fixture) becomes a savepoint inside this one,
    so what a test writes is still undone after it. Only for modules whose database tests all use
    ``db``: a transactional test would commit through it or flush the shared rows."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)

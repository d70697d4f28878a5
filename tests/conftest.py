from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_superuser("staff", "staff@example.com", "staff-password")


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client

"""Brute force: admin sign-ins lock a username+address pair out (django-axes), and invalid API
keys are limited per client address (429 with Retry-After). Counters never hold a key's hash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from tests.api.helpers import error_of, key_client
from tests.factories import UserFactory
from tracker.models import TeamAPIKey

LOGIN = "/admin/login/?next=/admin/"
HERE, ELSEWHERE = "203.0.113.7", "198.51.100.9"


@pytest.fixture
def admin_user(db):
    user = UserFactory(username="carol", is_staff=True, is_superuser=True)
    user.set_password("the-right-one")
    user.save()
    return user


def sign_in(password: str, *, username: str = "carol", address: str = HERE):
    return Client(REMOTE_ADDR=address).post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_ten_failed_admin_sign_ins_lock_the_username_from_that_address_for_15_minutes(
    admin_user, frozen_today
):
    for _ in range(9):
        assert sign_in("guess").status_code == 200  # the form again, with its error
    assert sign_in("guess").status_code == 429  # the tenth failure locks
    locked = sign_in("the-right-one")
    assert locked.status_code == 429
    text = locked.content.decode()
    assert "Sign-in locked" in text and "carol" in text and "15 minutes" in text

    # Only that pair: the same user from elsewhere, another user from here.
    assert signed_in(sign_in("the-right-one", address=ELSEWHERE))
    UserFactory(username="dave", is_staff=True).set_password("x")
    assert sign_in("guess", username="dave").status_code == 200

    frozen_today.shift(timedelta(minutes=14))
    assert sign_in("the-right-one").status_code == 429
    # An attempt while locked is an attempt: the 15 minutes count from it.
    frozen_today.shift(timedelta(minutes=14))
    assert sign_in("the-right-one").status_code == 429
    frozen_today.shift(timedelta(minutes=15, seconds=1))
    assert signed_in(sign_in("the-right-one"))


def test_nine_failures_then_the_right_password_signs_in_and_starts_the_count_again(admin_user):
    for _ in range(9):
        sign_in("guess")
    assert signed_in(sign_in("the-right-one"))
    for _ in range(9):
        sign_in("guess")
    assert signed_in(sign_in("the-right-one"))


def test_the_documented_command_unlocks_a_username(admin_user):
    for _ in range(10):
        sign_in("guess")
    assert sign_in("the-right-one").status_code == 429
    call_command("axes_reset_username", "carol")
    assert signed_in(sign_in("the-right-one"))


# --- API keys ------------------------------------------------------------------------------------


def test_invalid_api_keys_are_limited_per_client_address(world, settings, frozen_today):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "failed_api_key": "10/min",
        },
    }
    prefix = TeamAPIKey.objects.get(name="team A").prefix
    guesses = [f"{prefix}.wrong{i}" for i in range(10)] + ["nokey", "zz.zz"]

    def get(secret, address=HERE, **headers):
        return key_client(secret).get("/api/v1/teams/", REMOTE_ADDR=address, **headers)

    assert [get(g).status_code for g in guesses[:10]] == [401] * 10
    refused = get(guesses[10])
    assert refused.status_code == 429
    assert refused["Retry-After"] == "60"
    assert error_of(refused)["code"] == "too_many_invalid_keys"
    # From that address no key is even checked, not the right one either ...
    assert get(world.key_a).status_code == 429
    # ... and a forged X-Forwarded-For does not make a new address.
    assert get(guesses[11], HTTP_X_FORWARDED_FOR="192.0.2.1").status_code == 429
    # Other addresses, and requests without a key, are not affected.
    assert get(world.key_a, ELSEWHERE).status_code == 200
    assert get(guesses[11], ELSEWHERE).status_code == 401

    frozen_today.shift(timedelta(seconds=61))
    assert get(world.key_a).status_code == 200
    assert get(guesses[11]).status_code == 401


def test_valid_keys_are_not_counted_as_failures(world):
    client = world.client_a()
    assert {client.get("/api/v1/teams/").status_code for _ in range(15)} == {200}


def test_throttle_counters_are_keyed_by_the_key_prefix_never_its_hash(world, settings):
    assert world.client_a().get("/api/v1/teams/").status_code == 200
    key = TeamAPIKey.objects.get(name="team A")
    names = list(cache._cache)  # LocMemCache: the keys as stored
    assert any(key.prefix in name for name in names), names
    assert not any(key.hashed_key in name for name in names), names
    assert not any(key.pk in name for name in names), names

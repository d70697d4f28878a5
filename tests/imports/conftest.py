from tests.api.conftest import clean_throttles, frozen_today, world  # noqa: F401

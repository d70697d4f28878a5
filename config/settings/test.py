"""The test suite: fast hashing, mail kept in memory unless a test sends through real SMTP.

Tasks run eagerly in the test process. The end-to-end tests start real worker processes with
``CELERY_TASK_ALWAYS_EAGER=false``, ``DJANGO_EMAIL_BACKEND`` set to SMTP and ``DATABASE_URL``
pointing at the test database, which on SQLite is therefore a file, not memory.
"""

import os

from .base import *  # noqa: F403
from .base import DATABASES, VAR_DIR, env

SECRET_KEY = "test-only-secret-key"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
# Eager tasks still take a producer from the broker pool: keep it in memory, never in var/broker.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="memory://")
CELERY_TASK_EAGER_PROPAGATES = True
# Serve static files from the apps directly; no collectstatic needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if "sqlite" in DATABASES["default"]["ENGINE"]:
    # A file other processes can open; one per test run, so runs side by side don't collide.
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

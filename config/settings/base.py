"""Settings shared by every environment. The environment is read here and only here.

Defaults are the embedded ones (SQLite, a Celery transport that needs no server, console email),
so a fresh checkout runs with nothing but Python. Production overrides them through variables.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# --- Core -----------------------------------------------------------------------------------------
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("TUNEFOLIO_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en-us"
USE_I18N = False

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tracker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'tunefolio.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "config.sqlite"  # the library's real bind-parameter limit
    # WAL and a busy timeout let the web server, worker and beat share one SQLite file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (throttling shares it across processes) ------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tunefolio <tunefolio@localhost>")
#: Portfolio leads get the whole portfolio in their weekly digest.
TUNEFOLIO_PORTFOLIO_LEADS = env.list("TUNEFOLIO_PORTFOLIO_LEADS", default=[])

# --- Celery ---------------------------------------------------------------------------------------
# With no broker URL the filesystem transport carries tasks between processes on this machine
# (config/celery_app.py creates its folders). It has no redelivery: a task whose worker dies is
# lost, and the next nightly tick picks its tunes up. Production uses Redis.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    # Seconds before Redis hands an unacknowledged task (its worker died) to another worker.
    # Must stay well above every task's hard time limit, or Redis redelivers running tasks.
    else {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
)
# Any other transport option, as JSON, e.g. {"unacked_restore_interval": 5}.
CELERY_BROKER_TRANSPORT_OPTIONS |= env.json("CELERY_BROKER_TRANSPORT_OPTIONS", default={})
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured("CELERY_TASK_SOFT_TIME_LIMIT must be below CELERY_TASK_TIME_LIMIT.")
_visibility = CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
if _visibility is not None and _visibility <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must be below the broker's visibility timeout, or Redis hands "
        "running tasks to a second worker."
    )

#: Tunes per evaluation task: several workers share a large portfolio, and each task stays far
#: inside the time limit.
TUNEFOLIO_EVALUATION_CHUNK_SIZE = env.int("TUNEFOLIO_EVALUATION_CHUNK_SIZE", default=100)
#: Seconds before the first retry of a digest the mail server deferred (4xx); doubles each time,
#: five retries, at most ten minutes apart.
TUNEFOLIO_DIGEST_RETRY_BACKOFF = env.int("TUNEFOLIO_DIGEST_RETRY_BACKOFF", default=60)

REEVALUATE_AT = env("TUNEFOLIO_REEVALUATE_AT", default="02:00")  # HH:MM UTC, every night
DIGEST_AT = env("TUNEFOLIO_DIGEST_AT", default="mon 07:00")  # DAY HH:MM UTC, every week


def _crontab(spec: str, day_of_week: str = "*") -> crontab:
    if " " in spec:
        day_of_week, spec = spec.split()
    hour, minute = spec.split(":")
    return crontab(hour=hour, minute=minute, day_of_week=day_of_week)


# --- Usage pulls and the catalog sync ------------------------------------------------------------
#: Sources whose credentials are set are pulled nightly (``manage.py pull_usage SOURCE``).
USAGE_PULL_SOURCES = {
    source: config
    for source, config in {
        "openai": {
            "url": env("TUNEFOLIO_OPENAI_API_URL", default="https://api.openai.com"),
            "key": env("TUNEFOLIO_OPENAI_ADMIN_KEY", default=""),
        },
        "anthropic": {
            "url": env("TUNEFOLIO_ANTHROPIC_API_URL", default="https://api.anthropic.com"),
            "key": env("TUNEFOLIO_ANTHROPIC_ADMIN_KEY", default=""),
        },
        "litellm": {
            "url": env("TUNEFOLIO_LITELLM_URL", default=""),
            "key": env("TUNEFOLIO_LITELLM_KEY", default=""),
        },
        "langfuse": {
            "url": env("TUNEFOLIO_LANGFUSE_HOST", default=""),
            "public_key": env("TUNEFOLIO_LANGFUSE_PUBLIC_KEY", default=""),
            "secret_key": env("TUNEFOLIO_LANGFUSE_SECRET_KEY", default=""),
        },
    }.items()
    if all(config.values())
}
#: Seconds per request, retries of a 429/5xx/timeout, first backoff in seconds (doubling).
USAGE_PULL_TIMEOUT = env.float("TUNEFOLIO_PULL_TIMEOUT", default=30.0)
USAGE_PULL_RETRIES = env.int("TUNEFOLIO_PULL_RETRIES", default=4)
USAGE_PULL_BACKOFF = env.float("TUNEFOLIO_PULL_BACKOFF", default=2.0)
#: Each night re-pulls this many past days: providers revise recent figures.
USAGE_PULL_DAYS = env.int("TUNEFOLIO_PULL_DAYS", default=3)
#: A file path or URL in LiteLLM's model_prices_and_context_window.json format; synced weekly.
CATALOG_SYNC_URL = env("TUNEFOLIO_CATALOG_SYNC_URL", default="")
CATALOG_SYNC_AT = env("TUNEFOLIO_CATALOG_SYNC_AT", default="sun 01:00")


def _hour_before(spec: str) -> str:
    hour, minute = (int(part) for part in spec.split(":"))
    return f"{(hour - 1) % 24:02d}:{minute:02d}"


#: Pulls run an hour before the nightly re-evaluation, so it sees the night's usage.
PULL_USAGE_AT = env("TUNEFOLIO_PULL_USAGE_AT", default=_hour_before(REEVALUATE_AT))

CELERY_BEAT_SCHEDULE = {
    "nightly-reevaluation": {
        "task": "tracker.tasks.reevaluate_portfolio",
        "schedule": _crontab(REEVALUATE_AT),
        "options": {"expires": 6 * 3600},
    },
    "weekly-digest": {
        "task": "tracker.tasks.send_weekly_digests",
        "schedule": _crontab(DIGEST_AT),
        "options": {"expires": 12 * 3600},
    },
    "hourly-idempotency-purge": {
        "task": "tracker.tasks.purge_idempotency_records",
        "schedule": crontab(minute=17),
        "options": {"expires": 3600},
    },
    **{
        f"nightly-usage-pull-{source}": {
            "task": "tracker.tasks.pull_usage",
            "schedule": _crontab(PULL_USAGE_AT),
            "args": [source],
            "options": {"expires": 3600},
        }
        for source in USAGE_PULL_SOURCES
    },
    **(
        {
            "weekly-catalog-sync": {
                "task": "tracker.tasks.sync_catalog",
                "schedule": _crontab(CATALOG_SYNC_AT),
                "args": [CATALOG_SYNC_URL],
                "options": {"expires": 12 * 3600},
            }
        }
        if CATALOG_SYNC_URL
        else {}
    ),
}

# --- API ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Machines send a team API key in X-Api-Key; people use their admin session (with CSRF).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.api.authentication.APIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["tracker.api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": [
        "tracker.api.throttling.APIKeyRateThrottle",
        "tracker.api.throttling.PersonRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsers.StrictJSONParser"],
    "DEFAULT_METADATA_CLASS": "tracker.api.metadata.BriefMetadata",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "tracker.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "tracker.api.errors.exception_handler",
    # Money is a JSON number in and out (rounded to the field's places on the way in).
    "COERCE_DECIMAL_TO_STRING": False,
    "DEFAULT_THROTTLE_RATES": {
        "api_key": env("TUNEFOLIO_API_KEY_RATE", default="600/min"),
        "user": env("TUNEFOLIO_USER_RATE", default="300/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tunefolio API",
    "DESCRIPTION": "The portfolio of LLM fine-tunes, their usage, and whether each still pays off. "
    "Every 4xx answer is an error envelope: "
    '`{"error": {"code", "message", "details": [{"row", "field", "message"}]}}`.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TuneStatusEnum": "tracker.models.FineTune.Status",
        "VerdictEnum": "tracker.models.Verdict",
        "TuneInputStatusEnum": [("proposed", "Proposed"), ("deployed", "Deployed")],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.api.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"
#: Usage batches above this many rows are refused; bodies above the size limit get 413.
USAGE_BATCH_MAX_ROWS = 10_000
#: A refused usage batch lists at most this many errors (its message gives the total).
USAGE_MAX_ERROR_DETAILS = 1000
#: A full usage batch (10,000 records with the longest slugs and sources) is about 4.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=8 * 1024 * 1024)
#: API bodies above this many bytes get 413 from their Content-Length, before anything reads them.
API_MAX_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE
#: How long an Idempotency-Key's first response is replayed.
API_IDEMPOTENCY_TTL_HOURS = 24

# --- Logging --------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

"""Settings shared by every environment. The environment is read here and only here.

Defaults are the embedded ones (SQLite, a Celery transport that needs no server, console email),
so a fresh checkout runs with nothing but Python. Production overrides them through variables.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF, UNSAFE_INLINE
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
    "axes",
    "tracker",
]

MIDDLEWARE = [
    "tracker.metrics.MetricsMiddleware",  # first: times everything below it
    "tracker.observability.RequestIdMiddleware",
    # Before the host check and the HTTPS redirect: the health probes (tracker/middleware.py).
    "tracker.middleware.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside everything else, so it sees every answer under /api/ (errors of other middleware too).
    "tracker.api.middleware.ApiResponseMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers a locked-out sign-in with the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Sign-in lockout (django-axes) ----------------------------------------------------------------
# Ten failed admin sign-ins for one username from one address lock that pair out for 15 minutes;
# `manage.py axes_reset_username USERNAME` unlocks it sooner (README: "Brute force").
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_VERBOSE = False  # no start-up banner in every process's log
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tracker.views.signin_locked"
AXES_CLIENT_IP_CALLABLE = "tracker.api.throttling.client_ip"

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

# --- Content Security Policy (django-csp) -------------------------------------------------------
# Pages load only what this server serves: the admin's and the API docs' scripts and styles are
# static files (the docs come from drf-spectacular-sidecar, never a CDN). Inline styles stay
# allowed: the admin's widgets and the docs' renderers set style attributes; inline scripts don't.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        # Redoc builds its search index in a worker made from a blob.
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

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
#: A hung Redis (up but not answering) must cost a request a fraction of a second, not the
#: client's default of waiting forever: every cache user (throttling) fails open after this.
REDIS_CACHE_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CACHE_OPTIONS,
        }
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
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
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
#: The Redis broker's options (the web app, worker and beat alike).
REDIS_BROKER_TRANSPORT_OPTIONS = {
    # Seconds before Redis hands an unacknowledged task (its worker died) to another worker.
    # Must stay well above every task's hard time limit, or Redis redelivers running tasks.
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # A hung Redis (up but not answering) fails a publish within about a second instead of
    # hanging the request: the admin's "Re-evaluate now" then says nothing was queued.
    "socket_connect_timeout": 0.5,
    "socket_timeout": 0.5,
    # Connecting: one retry, then give up (a web request is waiting).
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker" / "queue"),
        "data_folder_out": str(VAR_DIR / "broker" / "queue"),
        "processed_folder": str(VAR_DIR / "broker" / "processed"),
        "control_folder": str(VAR_DIR / "broker" / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else dict(REDIS_BROKER_TRANSPORT_OPTIONS)
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
CELERY_BROKER_CONNECTION_TIMEOUT = 1
#: Publishing: one retry after 0.2 s, then ``QueueUnavailable``; the nightly run and the hourly
#: catch-up pick up whatever was not queued.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
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
#: inside the time limit. The engine's cost per call is mostly fixed (whole-column operations),
#: so a chunk of 5,000 costs far less than 50 of 100 (bench/bench_reevaluate.py).
TUNEFOLIO_EVALUATION_CHUNK_SIZE = env.int("TUNEFOLIO_EVALUATION_CHUNK_SIZE", default=5000)
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
    # A worker killed mid-run leaves its chunk unacknowledged until the visibility timeout (an
    # hour) and may lose it on the way: this tick reruns the same "which tunes are due today"
    # query after the nightly time, so those tunes are evaluated within the hour, not the
    # next night. Evaluation is an upsert per (tune, day): a tune evaluated twice stays one row.
    "hourly-catch-up-reevaluation": {
        "task": "tracker.tasks.catch_up_evaluations",
        "schedule": crontab(minute=47),
        "options": {"expires": 3600},
    },
    "weekly-digest": {
        "task": "tracker.tasks.send_weekly_digests",
        "schedule": _crontab(DIGEST_AT),
        "options": {"expires": 12 * 3600},
    },
    "daily-shutdown-notices": {
        "task": "tracker.tasks.send_shutdown_notices",
        "schedule": _crontab(REEVALUATE_AT),
        "options": {"expires": 12 * 3600},
    },
    "webhook-requeue": {
        "task": "tracker.tasks.requeue_webhook_deliveries",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 600},
    },
    "hourly-idempotency-purge": {
        "task": "tracker.tasks.purge_idempotency_records",
        "schedule": crontab(minute=17),
        "options": {"expires": 3600},
    },
    "weekly-evaluation-prune": {
        "task": "tracker.tasks.prune_evaluations",
        "schedule": crontab(hour=4, minute=30, day_of_week="sun"),
        "options": {"expires": 24 * 3600},
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
        # Invalid API keys per client address; past it every key from there gets 429.
        "failed_api_key": env("TUNEFOLIO_FAILED_API_KEY_RATE", default="10/min"),
    },
    # Proxies in front of the app that append the client's address to X-Forwarded-For; with 0
    # the header is ignored (a client could forge it to dodge the per-address limits).
    "NUM_PROXIES": env.int("TUNEFOLIO_NUM_PROXIES", default=0),
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

# --- Operations: readiness, metrics, webhooks, shutdown notices ---------------------------------
#: /readyz gives the broker this many seconds to answer.
TUNEFOLIO_READINESS_BROKER_TIMEOUT = env.float("TUNEFOLIO_READINESS_BROKER_TIMEOUT", default=1.0)
#: /readyz fails when the last completed nightly run is older than this.
TUNEFOLIO_READINESS_MAX_NIGHTLY_AGE_HOURS = env.float(
    "TUNEFOLIO_READINESS_MAX_NIGHTLY_AGE_HOURS", default=26
)
#: Bearer token for /metrics. Unset: /metrics answers only requests from loopback.
TUNEFOLIO_METRICS_TOKEN = env("TUNEFOLIO_METRICS_TOKEN", default="")
#: Days before a base model's shutdown by which its tunes must be retrained and evaluated.
TUNEFOLIO_RETRAIN_LEAD_DAYS = env.int("TUNEFOLIO_RETRAIN_LEAD_DAYS", default=30)
#: Days before the retrain-by date when a shutdown notice goes out, once each.
TUNEFOLIO_SHUTDOWN_NOTICE_DAYS = (90, 60, 30)
#: Seconds a webhook endpoint has to answer; slower counts as a timeout and is retried.
TUNEFOLIO_WEBHOOK_TIMEOUT = env.float("TUNEFOLIO_WEBHOOK_TIMEOUT", default=5.0)
#: Seconds before the first retry of a webhook that timed out or got a 5xx; doubles each time.
TUNEFOLIO_WEBHOOK_RETRY_BACKOFF = env.int("TUNEFOLIO_WEBHOOK_RETRY_BACKOFF", default=30)
TUNEFOLIO_WEBHOOK_MAX_RETRIES = env.int("TUNEFOLIO_WEBHOOK_MAX_RETRIES", default=5)

# --- Logging --------------------------------------------------------------------------------------
#: "json": one JSON object per line (for a log shipper); anything else: plain text.
LOG_FORMAT = env("DJANGO_LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
    },
    "filters": {"request_id": {"()": "config.logfilters.RequestIdDefault"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}
if LOG_FORMAT == "json":
    # Workers log through the handler above instead of Celery's own plain-text one.
    CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Error reporting ------------------------------------------------------------------------------
#: Errors from the web app and the workers go to Sentry when set; beat's schedule is monitored
#: (a nightly run that does not start or finish raises an alert). Unset: nothing is sent.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=True)],
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
    )

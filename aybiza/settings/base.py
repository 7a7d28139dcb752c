"""Settings shared by every mode. Values come from the environment with documented defaults."""

from django.core.exceptions import ImproperlyConfigured

from .bedrock import *  # noqa: F403
from .celery import *  # noqa: F403
from .channels import *  # noqa: F403
from .compliance import *  # noqa: F403
from .deepgram import *  # noqa: F403
from .email import *  # noqa: F403
from .env import BASE_DIR, REDIS_URL, USE_REDIS, VAR_DIR, env  # noqa: F401
from .learning import *  # noqa: F403
from .providers import *  # noqa: F403
from .tools import *  # noqa: F403
from .twilio import *  # noqa: F403

# Public (it is in this file): aybiza.core.checks lets it serve local hosts only.
DEV_SECRET_KEY = "aybiza-insecure-development-key-change-me"
SECRET_KEY: str = env("SECRET_KEY", default=DEV_SECRET_KEY)
# Prometheus scrapers send it as a bearer token to /metrics (aybiza.core.views.metrics).
METRICS_TOKEN: str = env("METRICS_TOKEN", default="")
# True in aybiza.settings.prod only: the weak-value checks of aybiza.core.checks apply.
IS_PRODUCTION = False
DEBUG: bool = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "aybiza.core",
    "agents",
    "calls",
    "tools",
    "memory",
    "learning",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files under daphne (no runserver, no nginx needed): before everything else that
    # would touch the session or the database. WhiteNoise, made async-capable (no thread hop).
    "aybiza.core.static_files.AsyncWhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "aybiza.urls"
ASGI_APPLICATION = "aybiza.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# An empty DATABASE_URL (e.g. "DATABASE_URL=" in .env) means the embedded default, not a crash.
DATABASE_URL: str = env("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default writes from several threads (consumers, in-process tasks). WAL lets
    # readers go on while one writes; IMMEDIATE makes every transaction take the write lock when
    # it begins, waiting up to `timeout` for it. SQLite's default (deferred) transactions upgrade
    # to a write lock mid-way and fail at once with "database is locked" when another thread
    # wrote meanwhile: that lost audit events of calls ending together.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL;"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if USE_REDIS:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Locks a username+IP out after repeated failed logins (and audits every attempt).
AUTHENTICATION_BACKENDS = ["compliance.auth.LockoutModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# The embedded default and the tests serve straight from the apps' and static/ folders (no
# collectstatic step); production serves the collected, compressed, hashed copies
# (aybiza/settings/prod.py).
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Call recordings (calls/recordings.py). Embedded default: files under MEDIA_ROOT/recordings/,
# each sealed with the tenant's data key, never served as files. With a bucket: S3 objects
# encrypted by S3 with SSE-KMS under the tenant's own KMS key (compliance/recording_keys.py).
# Either way they are played through signed links that expire (RECORDING_URL_TTL_S) and that
# only these member roles (or API keys with the `recordings` scope) are given.
RECORDINGS_S3_BUCKET: str = env("RECORDINGS_S3_BUCKET", default="")
RECORDINGS_S3_REGION: str = env("RECORDINGS_S3_REGION",
                                default=env("AWS_REGION", default="us-east-1"))
RECORDINGS_S3_ENDPOINT_URL: str = env("RECORDINGS_S3_ENDPOINT_URL", default="")
RECORDING_URL_TTL_S: int = env.int("RECORDING_URL_TTL_S", default=300)
RECORDING_ROLES: list[str] = env.list("RECORDING_ROLES", default=["owner", "admin"])
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "recordings": (
        {"BACKEND": "calls.recording_s3.TenantKeyS3Storage",
         "OPTIONS": {"bucket_name": RECORDINGS_S3_BUCKET, "region_name": RECORDINGS_S3_REGION,
                     "endpoint_url": RECORDINGS_S3_ENDPOINT_URL or None}}
        if RECORDINGS_S3_BUCKET else
        {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
}
LOGIN_URL = "/admin/login/"
LOGIN_REDIRECT_URL = "/api/v1/"  # where /api-auth/login/ sends a member without a `next`

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "aybiza.core.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["aybiza.core.permissions.TenantScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["aybiza.core.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api_key": env("API_THROTTLE_RATE", default="1200/min")},
    "DEFAULT_PARSER_CLASSES": [
        "aybiza.core.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "aybiza.core.pagination.BoundedLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "aybiza.core.exception_handler.api_exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AYBIZA API",
    "DESCRIPTION": "Voice agents on phone numbers: agents, numbers, calls, tools, compliance.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the sidecar package: the docs page needs no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status` or `state` field; name their enums instead of numbering them.
    "ENUM_NAME_OVERRIDES": {
        "AgentStatusEnum": "agents.models.AgentStatus",
        "CallStatusEnum": "calls.models.CallStatus",
        "TransferStateEnum": "calls.transfer_models.TransferState",
        "AlertStateEnum": "calls.models.AlertState",
        # A rollout's first share, taken by both publish and rollout.
        "RolloutStepEnum": [(1, 1), (10, 10), (50, 50)],
    },
}

# Publishing replays the agent's last REPLAY_GATE_CALLS finished calls (text mode) against the
# draft and the published version (learning/replay.py); the draft is refused when it departs from
# what happened on more calls than the published one does, by more than this share (in %). Fewer
# than REPLAY_GATE_MIN_CALLS calls: no replay. 0 calls: off.
REPLAY_GATE_CALLS: int = env.int("REPLAY_GATE_CALLS", default=10)
REPLAY_GATE_MIN_CALLS: int = env.int("REPLAY_GATE_MIN_CALLS", default=5)
REPLAY_GATE_MAX_REGRESSION_PCT: float = env.float("REPLAY_GATE_MAX_REGRESSION_PCT", default=10.0)

# Live-call limits that protect the server from a misbehaving peer.
MEDIA_STREAM_MAX_MESSAGE_BYTES: int = env.int("MEDIA_STREAM_MAX_MESSAGE_BYTES", default=64 * 1024)
MEDIA_STREAM_MAX_BAD_MESSAGES: int = env.int("MEDIA_STREAM_MAX_BAD_MESSAGES", default=50)
# Agent audio per outbound media message: 20 ms (160-byte frames, as Twilio sends) or a multiple
# up to 100 ms. 40 ms halves the messages and socket writes of a speaking call.
MEDIA_OUTBOUND_MESSAGE_MS: int = env.int("MEDIA_OUTBOUND_MESSAGE_MS", default=20)
if MEDIA_OUTBOUND_MESSAGE_MS not in (20, 40, 60, 80, 100):
    raise ImproperlyConfigured("MEDIA_OUTBOUND_MESSAGE_MS must be 20, 40, 60, 80 or 100")

# Load the offline speech models (pocketsphinx, hibari) at startup, not on the first call.
OFFLINE_SPEECH_WARMUP: bool = env.bool("OFFLINE_SPEECH_WARMUP", default=False)
# Synthesise an agent's recording disclosure and greeting when it is saved or published, so
# calls open with prepared audio at once (calls/realtime/opening_audio.py).
OPENING_AUDIO_PREPARE: bool = env.bool("OPENING_AUDIO_PREPARE", default=True)

LOG_LEVEL: str = env("LOG_LEVEL", default="INFO")
# "plain" (development default) or "json" (one object per line: production's default).
LOG_FORMAT: str = env("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"call": {"()": "aybiza.core.log_context.CallContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s%(call)s"},
        "json": {"()": "aybiza.core.log_context.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["call"],
                             "formatter": LOG_FORMAT if LOG_FORMAT == "json" else "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        # httpx logs request URLs at INFO, and tool URLs can carry caller data.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "twilio.http_client": {"level": "WARNING"},
        # At DEBUG these log request headers: Deepgram's API key, AWS session tokens.
        "websockets": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
    },
}


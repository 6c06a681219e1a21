"""Settings, read once from the environment (12-factor) with defaults for the embedded shape."""

from pathlib import Path

import environ

from .keys import read_key

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
VAR_DIR = Path(env.str("MAILADMIN_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)
# With DEBUG on a missing key is generated into var/; with DEBUG off it must already exist
# (`make run` generates it) or come from the environment.
SECRET_KEY = read_key("SECRET_KEY", VAR_DIR, env.str("SECRET_KEY", default=""), generate=DEBUG)
_field_keys = read_key(
    "FIELD_ENCRYPTION_KEY", VAR_DIR, env.str("FIELD_ENCRYPTION_KEY", default=""), generate=DEBUG
)
# A comma-separated list rotates keys: the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEY = [k.strip() for k in _field_keys.split(",") if k.strip()]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
MAILADMIN_PUBLIC_URL = env.str("MAILADMIN_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "encrypted_model_fields",
    "tenants",
    "accounts",
    "servers",
    "outbox",
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

ROOT_URLCONF = "mailadmin.urls"
WSGI_APPLICATION = "mailadmin.wsgi.application"

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
                "tenants.context.tenant_frame",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'mailadmin.sqlite3'}"),
}
# A connection per request costs PostgreSQL a new backend process each time: more than the
# whole of an API call. Connections are kept, and checked before each request reuses them
# (mailadmin.postgresql does that without a round trip).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "mailadmin.postgresql"  # see its docstring
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        # Only the fixed statements of mailadmin.hotpath are prepared (at first use); the
        # ORM binds on the client and never prepares.
        DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL plus a busy timeout avoid "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on a missing root
# Serve straight from the finders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Celery -----------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Its exchange table; the default is ./control in whatever folder the worker started.
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A wake-up that cannot be published fails fast: the row is stored and the sweep delivers it.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
MAILADMIN_SWEEP_SECONDS = env.float("MAILADMIN_SWEEP_SECONDS", default=30.0)
MAILADMIN_REFRESH_BEAT_SECONDS = env.float("MAILADMIN_REFRESH_BEAT_SECONDS", default=60.0)
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "outbox.tasks.sweep", "schedule": MAILADMIN_SWEEP_SECONDS},
    "refresh-expiring-tokens": {
        "task": "accounts.tasks.refresh_expiring_tokens",
        "schedule": MAILADMIN_REFRESH_BEAT_SECONDS,
    },
}

# --- Tokens -----------------------------------------------------------------------------
# A token this close to expiry is refreshed rather than used.
MAILADMIN_TOKEN_SKEW_SECONDS = env.float("MAILADMIN_TOKEN_SKEW_SECONDS", default=120.0)
# The beat refreshes tokens expiring within this window...
MAILADMIN_REFRESH_WINDOW_SECONDS = env.float("MAILADMIN_REFRESH_WINDOW_SECONDS", default=600.0)
# ...and refresh tokens idle this long (Microsoft retires them after 90 days of no use).
MAILADMIN_IDLE_REFRESH_DAYS = env.float("MAILADMIN_IDLE_REFRESH_DAYS", default=30.0)
# Where notices to admins go out when a tenant has no other working server: "tenant/server".
MAILADMIN_SYSTEM_SERVER = env.str("MAILADMIN_SYSTEM_SERVER", default="")

# --- Delivery policy --------------------------------------------------------------------
# A row left in `sending` longer than this belongs to a worker that died; the sweep re-queues it.
MAILADMIN_STALE_SENDING_SECONDS = env.float("MAILADMIN_STALE_SENDING_SECONDS", default=600.0)
MAILADMIN_RETRY_BASE_SECONDS = env.float("MAILADMIN_RETRY_BASE_SECONDS", default=30.0)
MAILADMIN_RETRY_MAX_SECONDS = env.float("MAILADMIN_RETRY_MAX_SECONDS", default=3600.0)
MAILADMIN_MAX_ATTEMPTS = env.int("MAILADMIN_MAX_ATTEMPTS", default=12)
# After this many consecutive failures to reach a server, stop trying it for a while.
MAILADMIN_BREAKER_THRESHOLD = env.int("MAILADMIN_BREAKER_THRESHOLD", default=5)
MAILADMIN_BREAKER_OPEN_SECONDS = env.float("MAILADMIN_BREAKER_OPEN_SECONDS", default=60.0)
MAILADMIN_MAX_MESSAGE_BYTES = env.int("MAILADMIN_MAX_MESSAGE_BYTES", default=25 * 1024 * 1024)

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tenants.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "mailadmin.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mailadmin API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

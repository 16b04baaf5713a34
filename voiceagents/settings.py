"""Django settings for voiceagents. Every value comes from the environment through
voiceagents.env with a working default; `.env.example` documents each knob."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.templatetags.static import static

from voiceagents.env import (
    ImproperlyConfiguredEnv,
    database_from_url,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    load_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")

# --- core ----------------------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "dev-insecure-change-me-" + "x" * 32)
BASE_DOMAIN = env_str("BASE_DOMAIN", "localhost")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", [f"http://*.{BASE_DOMAIN}:8000", f"http://{BASE_DOMAIN}:8000"]
)
# JSON under /api/, Django's page elsewhere.
CSRF_FAILURE_VIEW = "voiceagents.views.csrf_failure"
# The URL carriers reach us at; webhook URLs are built from it and signatures are checked
# against it (behind a proxy, the request's own host is not what the carrier signed).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

# --- apps: which live in the public schema, which in each organization's -------------------------
# Decided once (docs/decisions.md): identity, tenancy, credentials and platform machinery are
# shared; every product table an organization owns is per tenant.
SHARED_APPS = [
    # The admin theme (docs/decisions.md). Its templates must win over the admin's and over
    # django_tenants' own admin/app_list.html and admin/index.html, hence first. The basic
    # config: unfold's default one would replace our admin sites with its own.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.import_export",
    "django_tenants",
    "daphne",
    "organizations",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "organizations.apps.TenantAdminConfig",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "channels",
]
TENANT_APPS = [
    "agents",
    "calls",
    "knowledge",
    "integrations",
]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "organizations.Organization"
TENANT_DOMAIN_MODEL = "organizations.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "voiceagents.urls_public"
ROOT_URLCONF = "voiceagents.urls_tenant"
# An unknown host is served as the public site rather than a bare 404, so the landing page,
# health checks and the API answer on any hostname (credentials pick the tenant there).
SHOW_PUBLIC_IF_NO_TENANT_FOUND = True
TENANT_LIMIT_SET_CALLS = True

AUTH_USER_MODEL = "organizations.User"

MIDDLEWARE = [
    "voiceagents.middleware.RequestContextMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "voiceagents.middleware.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
            ],
        },
    },
]

WSGI_APPLICATION = "voiceagents.wsgi.application"
ASGI_APPLICATION = "voiceagents.asgi.application"

# --- database --------------------------------------------------------------------------------
_db = database_from_url(env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voiceagents"))
DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        **_db,
        # psycopg's pool rather than CONN_MAX_AGE: under ASGI each sync view may run on another
        # thread, and Django's docs advise a pool over persistent connections there.
        # django-tenants re-issues SET search_path whenever a connection is (re)opened.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {
            "pool": {
                "min_size": env_int("DB_POOL_MIN", 1),
                "max_size": env_int("DB_POOL_MAX", 20),
                "timeout": env_float("DB_POOL_TIMEOUT", 10.0),
            }
        }
        if env_bool("DB_POOL", True)
        else {},
        # One test database per test run (pid), so concurrent runs on one machine never drop
        # each other's database; pytest-django removes it when the run ends.
        "TEST": {"NAME": env_str("TEST_DATABASE_NAME", f"test_{_db['NAME']}_{os.getpid()}")},
    }
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Channels layer, Celery broker ---------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env_str("CACHE_URL", REDIS_URL),
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "va"),
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis'
            # 5 s BZPOPMIN: the read then times out and kills the consumer. Give reads room.
            "hosts": [
                {
                    "address": env_str("CHANNELS_REDIS_URL", REDIS_URL),
                    "socket_timeout": 30,
                    "socket_connect_timeout": 5,
                }
            ],
            "prefix": env_str("CHANNELS_PREFIX", "va:ch"),
        },
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# The queue tasks are sent to and workers read: deployments sharing one Redis keep theirs
# apart with it, as CACHE_KEY_PREFIX and CHANNELS_PREFIX do for the cache and the layer.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# Stale calls: a call still queued, ringing or in progress past these is reconciled with its
# carrier (or ended as stale_call) by the periodic task calls.stale_calls_sweep, which runs
# every STALE_CALLS_SWEEP_SECONDS (its entry in Celery beat's schedule is made with that
# interval; the admin changes it there afterwards).
STALE_CALL_QUEUED_SECONDS = env_int("STALE_CALL_QUEUED_SECONDS", 600)
STALE_CALL_RINGING_SECONDS = env_int("STALE_CALL_RINGING_SECONDS", 300)
# in progress: longer than the agent's maximum call duration plus this margin
STALE_CALL_IN_PROGRESS_MARGIN_SECONDS = env_int("STALE_CALL_IN_PROGRESS_MARGIN_SECONDS", 300)
STALE_CALLS_SWEEP_SECONDS = env_int("STALE_CALLS_SWEEP_SECONDS", 60)

# --- auth and API ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
SUPABASE_URL = env_str("SUPABASE_URL", "")
SUPABASE_JWT_SECRET = env_str("SUPABASE_JWT_SECRET", "")
SUPABASE_JWKS_URL = env_str(
    "SUPABASE_JWKS_URL", f"{SUPABASE_URL}/auth/v1/.well-known/jwks.json" if SUPABASE_URL else ""
)
SUPABASE_JWT_AUDIENCE = env_str("SUPABASE_JWT_AUDIENCE", "authenticated")
SUPABASE_JWT_ISSUER = env_str("SUPABASE_JWT_ISSUER", "")
API_KEY_PREFIX = env_str("API_KEY_PREFIX", "va_live_")
INVITATION_TTL_HOURS = env_int("INVITATION_TTL_HOURS", 72)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "organizations.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "voiceagents.api.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("API_PAGE_SIZE", 50),
    # django-filter's backend, with every filter's datetimes in UTC (voiceagents.api.filters).
    "DEFAULT_FILTER_BACKENDS": [
        "voiceagents.api.filters.FilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    # DRF's three, the JSON one bounded in nesting depth (voiceagents.api.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "voiceagents.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # drf-spectacular's, with the error responses and descriptions our API documents.
    "DEFAULT_SCHEMA_CLASS": "voiceagents.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "voiceagents.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "organizations.throttling.CredentialRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "credential": env_str("API_RATE_LIMIT", "600/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
_API_DESCRIPTION = """Build, run and observe AI phone agents.

**The guide:** `docs/api.md` in the voiceagents source walks through every resource with
examples: organizations and keys, agents and their versions, knowledge bases, phone numbers
and routing, calls and messages.

- **Authentication:** `Authorization: Bearer <credential>`, an organization API key
  (`va_live_...`) or a Supabase access token. The credential selects the organization; on an
  organization's own domain, a credential of another organization is refused with 403.
- **Errors:** every failure answers `{"error": {"code", "message", "details", "request_id"}}`
  (the `Error` schema). Branch on `code`; a validation error lists each field's problems in
  `details.fields`.
- **Lists** are paginated: `?page=` and `?page_size=` (at most 200).
- **Rate limits** are per credential; a 429 carries `Retry-After`.
"""
SPECTACULAR_SETTINGS = {
    "TITLE": "voiceagents API",
    "DESCRIPTION": _API_DESCRIPTION,
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Request bodies are documented as JSON: forms are parsed too, but lists and objects do not
    # survive form encoding. Document uploads declare multipart/form-data on their views.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Docstrings are for maintainers; what integrators read is given with extend_schema.
    "DISABLE_DOCSTRING_DESCRIPTIONS": True,
}

# --- i18n, static --------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# whitenoise serves static files from daphne itself: one process, no extra web server.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# The console's theme, django-unfold (docs/decisions.md): its assets ship in the wheel.
# UNFOLD is an organization's console (organizations.admin_site.TenantAdminSite); the
# platform's admin on the main host reads UNFOLD_PLATFORM.
_CONSOLE_LOOK: dict[str, Any] = {
    "SITE_SYMBOL": "support_agent",
    "SITE_FAVICONS": [
        {
            "rel": "icon",
            "type": "image/svg+xml",
            "href": lambda request: static("voiceagents/favicon.svg"),
        }
    ],
    "STYLES": [lambda request: static("voiceagents/console.css")],
}
UNFOLD = {
    **_CONSOLE_LOOK,
    "SITE_HEADER": "organizations.admin_site.console_site_header",
    "SITE_TITLE": "organizations.admin_site.console_site_title",
    "DASHBOARD_CALLBACK": "calls.admin_dashboard.dashboard_callback",
    # The product's areas; each link only for roles that may view its page.
    "SIDEBAR": {"navigation": "organizations.admin_navigation.console_navigation"},
}
UNFOLD_PLATFORM = {
    **_CONSOLE_LOOK,
    "SITE_HEADER": "voiceagents platform",
    "SITE_TITLE": "voiceagents platform",
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
# The default prints emails (voiceagents.mail) with the secrets in their links redacted: an
# invitation's token must not end up in a log. Real delivery needs a sending backend.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "voiceagents.mail.ConsoleEmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "voiceagents <no-reply@localhost>")
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 20 * 1024 * 1024)

# --- secrets at rest (voiceagents.secrets) --------------------------------------------------------
# Fernet keys, newest first: the first encrypts, any decrypts. Rotate by putting a new key in
# front and running `manage.py secrets_reencrypt`. The servers and workers refuse to start
# without one; `make run` generates one into .env for the demo.
SECRETS_ENCRYPTION_KEYS = env_list("SECRETS_ENCRYPTION_KEYS", [])
# Whether an organization without its own credential for a provider (integrations'
# ProviderCredential) may use the platform's account below. True for the demo; a platform where
# every customer brings its own accounts sets it to false.
ALLOW_PLATFORM_CREDENTIALS = env_bool("ALLOW_PLATFORM_CREDENTIALS", True)

# --- batch calls: their input ---------------------------------------------------------------------
# The largest input a batch is created from (an upload, inline rows, a file_url): 413 beyond.
BATCH_MAX_FILE_BYTES = env_int("BATCH_MAX_FILE_BYTES", 50 * 1024 * 1024)
# file_url: https:// hosts on private, loopback or link-local addresses are refused, so the server
# cannot be turned against its own network; true allows every address, or list the networks
# (CIDR) that may be reached although not public.
BATCH_FILE_URL_ALLOW_PRIVATE = env_bool("BATCH_FILE_URL_ALLOW_PRIVATE", False)
BATCH_FILE_URL_ALLOWED_NETWORKS = env_list("BATCH_FILE_URL_ALLOWED_NETWORKS", [])
BATCH_FILE_URL_TIMEOUT = env_float("BATCH_FILE_URL_TIMEOUT", 60.0)
# s3://bucket/<organization slug>/key sources, read with these credentials; off while the key
# id is empty. BATCH_S3_BUCKETS limits the buckets (empty: any the credentials read).
BATCH_S3_ACCESS_KEY_ID = env_str("BATCH_S3_ACCESS_KEY_ID", "")
BATCH_S3_SECRET_ACCESS_KEY = env_str("BATCH_S3_SECRET_ACCESS_KEY", "")
BATCH_S3_REGION = env_str("BATCH_S3_REGION", "us-east-1")
BATCH_S3_ENDPOINT_URL = env_str("BATCH_S3_ENDPOINT_URL", "")
BATCH_S3_BUCKETS = env_list("BATCH_S3_BUCKETS", [])
if bool(BATCH_S3_ACCESS_KEY_ID) != bool(BATCH_S3_SECRET_ACCESS_KEY):
    raise ImproperlyConfiguredEnv(
        "BATCH_S3_ACCESS_KEY_ID and BATCH_S3_SECRET_ACCESS_KEY are set together or not at all."
    )
# The fastest pace a batch may ask for (calls started per second).
BATCH_MAX_CALLS_PER_SECOND = env_float("BATCH_MAX_CALLS_PER_SECOND", 10.0)

# --- providers ---------------------------------------------------------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
GEMINI_API_KEY = env_str("GEMINI_API_KEY", "")
GEMINI_BASE_URL = env_str("GEMINI_BASE_URL", "")
HUME_API_KEY = env_str("HUME_API_KEY", "")
HUME_CONFIG_ID = env_str("HUME_CONFIG_ID", "")
HUME_BASE_URL = env_str("HUME_BASE_URL", "")
TWILIO_ACCOUNT_ID = env_str("TWILIO_ACCOUNT_ID", env_str("TWILIO_ACCOUNT_SID", ""))
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL", "https://api.twilio.com")
PLIVO_AUTH_ID = env_str("PLIVO_AUTH_ID", "")
PLIVO_AUTH_TOKEN = env_str("PLIVO_AUTH_TOKEN", "")
PLIVO_API_BASE_URL = env_str("PLIVO_API_BASE_URL", "https://api.plivo.com")

# --- integrations: MCP servers and custom tools ----------------------------------------------------
# The platform's MCP servers, the URL of an organization's integration of that kind when it
# gives none (empty: that kind needs a URL).
TELE_MCP_SERVER_URL = env_str("TELE_MCP_SERVER_URL", "")
GMAIL_MCP_SERVER_URL = env_str("GMAIL_MCP_SERVER_URL", "")
WHATSAPP_MCP_SERVER_URL = env_str("WHATSAPP_MCP_SERVER_URL", "")
SHOPIFY_MCP_SERVER_URL = env_str("SHOPIFY_MCP_SERVER_URL", "")
# URLs an organization gives (its MCP servers, its custom tools' endpoints) must not reach
# private, loopback or link-local addresses (as batch file URLs); true allows every address,
# or list the networks (CIDR) that may be reached although not public. The platform's own
# MCP servers above are trusted. http:// is refused for those URLs unless allowed here.
INTEGRATION_URLS_ALLOW_PRIVATE = env_bool("INTEGRATION_URLS_ALLOW_PRIVATE", False)
INTEGRATION_URLS_ALLOWED_NETWORKS = env_list("INTEGRATION_URLS_ALLOWED_NETWORKS", [])
INTEGRATION_URLS_ALLOW_HTTP = env_bool("INTEGRATION_URLS_ALLOW_HTTP", False)
# How long a tool may take (seconds) unless its integration or custom tool says otherwise.
INTEGRATION_TOOL_TIMEOUT = env_float("INTEGRATION_TOOL_TIMEOUT", 10.0)

# --- outbound webhooks and post-call analysis ------------------------------------------------------
# Webhook endpoints are organizations' URLs like the above (INTEGRATION_URLS_* decide which
# addresses they may reach). Each attempt waits at most WEBHOOK_TIMEOUT_SECONDS; a failed one
# is tried again after base * 2^(n-1) seconds (capped, with jitter), up to WEBHOOK_MAX_ATTEMPTS;
# an endpoint is disabled after WEBHOOK_DISABLE_AFTER_FAILURES failed attempts in a row.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0)
WEBHOOK_RETRY_MAX_SECONDS = env_float("WEBHOOK_RETRY_MAX_SECONDS", 3600.0)
WEBHOOK_DISABLE_AFTER_FAILURES = env_int("WEBHOOK_DISABLE_AFTER_FAILURES", 25)
# Post-call analysis: a text model reads a completed call's transcript (false: never).
CALL_ANALYSIS_ENABLED = env_bool("CALL_ANALYSIS_ENABLED", True)
# How long the model may take (seconds); past it call.ended is sent without the analysis.
CALL_ANALYSIS_TIMEOUT_SECONDS = env_float("CALL_ANALYSIS_TIMEOUT_SECONDS", 30.0)
# The text models asked, by the agent's provider (Hume agents use the OpenAI one).
CALL_ANALYSIS_OPENAI_MODEL = env_str("CALL_ANALYSIS_OPENAI_MODEL", "gpt-4o-mini")
CALL_ANALYSIS_GEMINI_MODEL = env_str("CALL_ANALYSIS_GEMINI_MODEL", "gemini-2.5-flash")

# --- logging -------------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")  # json | console
LOGGING_CONFIG = None  # voiceagents.logging configures structlog + stdlib once, below.

from voiceagents.logging import configure_logging  # noqa: E402

configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)

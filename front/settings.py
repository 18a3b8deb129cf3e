"""Django settings for the Volley service, read only from `VOLLEY_*` environment variables.

With no settings at all this is the embedded mode: SQLite and local files under
`VOLLEY_DATA_DIR`, stages run in-process. Production sets a PostgreSQL URL, a
Redis URL and an S3 endpoint. Every variable is listed in docs/settings.md.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from volley import defaults
from volley.exceptions import SettingError
from volley.settings import (env_bool, env_choice, env_int, env_list, env_path, env_retired, env_str,
                             secret_key)
from volley.telemetry import logging_config

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = env_path("DATA_DIR", Path("volley-data")).resolve()


def _database(url: str) -> dict:
    """`postgres://user:pass@host:port/name[?sslmode=require&...]` or `sqlite:///path`;
    empty = SQLite in DATA_DIR. Query parameters are libpq connection parameters
    (DigitalOcean's managed PostgreSQL needs `sslmode=require`)."""
    if not url:
        return _sqlite(DATA_DIR / "volley.sqlite3")
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return _sqlite(unquote(parts.path) or DATA_DIR / "volley.sqlite3")
    if parts.scheme not in ("postgres", "postgresql"):
        raise SettingError(f"VOLLEY_DATABASE_URL must be postgres://... or sqlite:///..., got {url!r}")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "volley",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": dict(parse_qsl(parts.query)),
    }


def _sqlite(path) -> dict:
    """SQLite as the embedded mode needs it with a stage thread writing beside the web
    requests: WAL (readers never wait for the writer), and every transaction takes the
    write lock when it begins (BEGIN IMMEDIATE) and waits up to the busy timeout for it.
    A deferred transaction that reads first and writes later cannot wait: SQLite answers
    "database is locked" at once when another writer got in between."""
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {
        "timeout": env_int("SQLITE_BUSY_SECONDS", 20, minimum=1),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }}


DATABASE_URL = env_str("DATABASE_URL", "")
REDIS_URL = env_str("REDIS_URL", "")
EMBEDDED = not REDIS_URL  # no queue server: stages run in a thread of the web process

DEBUG = env_bool("DEBUG", False)
#: Required in production; embedded, a random key kept in DATA_DIR/secret.key.
SECRET_KEY = secret_key(DATA_DIR)
#: Host names the front answers to, in every mode: share and media links are built from
#: the request's host, so a forged Host header must be refused, not echoed into links.
#: `volley serve --host ADDRESS` adds that address (VOLLEY_SERVE_HOST, set by the command).
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] + env_list("SERVE_HOST", []))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
#: The front's public address (https://volley.example.com), for share links and OpenGraph
#: tags; empty = taken from each request.
BASE_URL = env_str("BASE_URL", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "front",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "front.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "front.urls"
WSGI_APPLICATION = "front.wsgi.application"
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
            ]
        },
    }
]

DATABASES = {"default": _database(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # "A numeric-only password was accepted" (issue 23): a PIN is guessed in hours.
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "games"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
#: Only for `collectstatic` (an image may bake files in); served from the app folders otherwise.
_static_root = env_str("STATIC_ROOT", "")
STATIC_ROOT = Path(_static_root) if _static_root else None
#: Serve static files straight from the app folders (no collectstatic needed, also in the image).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads through the API are streamed to a temporary file (whatever their size: one
# handler, no in-memory copies), stopped once past VOLLEY_MAX_DIRECT_UPLOAD_BYTES
# (front/uploads.py; a body whose Content-Length says so is refused before it is read).
FILE_UPLOAD_HANDLERS = ["front.uploads.LimitedUploadHandler"]
#: Where those temporary files go: empty = the system's temporary directory.
FILE_UPLOAD_TEMP_DIR = env_str("UPLOAD_TEMP_DIR", "") or None

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
#: HSTS: Django sends it only on HTTPS responses (behind the ingress: X-Forwarded-Proto),
#: so plain-HTTP probes and the embedded mode on loopback never see it.
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 0 if EMBEDDED else 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD", False)
#: The ingress redirects to HTTPS; set it when nothing in front of Volley does. The
#: health checks stay on plain HTTP (kubelet probes).
SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SILENCED_SYSTEM_CHECKS = [
    # HSTS for every subdomain and the browsers' preload list bind the whole domain, which
    # is its owner's call: VOLLEY_HSTS_INCLUDE_SUBDOMAINS, VOLLEY_HSTS_PRELOAD.
    "security.W005", "security.W021",
    # The ingress redirects HTTP to HTTPS (docs/operations.md); VOLLEY_SSL_REDIRECT is for
    # a front with nothing before it.
    "security.W008",
]

REST_FRAMEWORK = {
    # Token first: a bad token answers 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "front.limits.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Bounded integers and JSON depth: hostile values answer 400, never 500.
    "DEFAULT_PAGINATION_CLASS": "front.bounds.BoundedPagination",
    "DEFAULT_PARSER_CLASSES": [
        "front.bounds.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Volley API",
    "DESCRIPTION": "Upload volleyball games; get their rallies, clips, digest and best reel.",
    "VERSION": "1",
}

#: Log lines as text (default) or one JSON object per line (Kubernetes), tagged with the
#: game and stage in hand (volley.telemetry).
LOGGING = logging_config(env_str("LOG_LEVEL", "INFO"), env_choice("LOG_FORMAT", "text", ("text", "json")))

# --- the service's own settings ---------------------------------------------------
GiB, MiB = 1024**3, 1024**2
#: Largest game a browser may upload (multipart straight to the object store).
MAX_UPLOAD_BYTES = env_int("MAX_UPLOAD_BYTES", 20 * GiB, minimum=1)
#: Largest file `POST /api/games/` takes in one request (it passes through the front).
MAX_DIRECT_UPLOAD_BYTES = env_int("MAX_DIRECT_UPLOAD_BYTES", 2 * GiB, minimum=1)
#: Size of each part of a browser upload; S3 wants ≥ 5 MiB and at most 10,000 parts.
UPLOAD_PART_BYTES = env_int("UPLOAD_PART_BYTES", 16 * MiB, minimum=5 * MiB)
#: A browser upload not finished after this many hours is given up (its parts deleted):
#: by `volley serve`'s housekeeping, the workers' and `volley reconcile`, and in production
#: by the bucket's lifecycle rule too (docs/operations.md).
env_retired("UPLOAD_EXPIRY_DAYS", "UPLOAD_EXPIRY_HOURS")
UPLOAD_EXPIRY_HOURS = env_int("UPLOAD_EXPIRY_HOURS", defaults.UPLOAD_EXPIRY_HOURS, minimum=1)
#: Seconds a share page's media URLs stay valid (front/sharing.py; never longer than
#: VOLLEY_URL_EXPIRY): the bound on a presigned URL taken from a link later revoked.
SHARE_URL_EXPIRY = env_int("SHARE_URL_EXPIRY", defaults.SHARE_URL_EXPIRY, minimum=60)
#: Tries of one stage of one game before the game fails (bad input fails at once).
STAGE_ATTEMPTS = env_int("STAGE_ATTEMPTS", 3, minimum=1)
#: A running stage whose heartbeat is older than this is taken for dead and run again.
STALL_SECONDS = env_int("STALL_SECONDS", 120, minimum=10)
#: Retries after an error wait RETRY_BASE_SECONDS × 2^(n-1) before try n+1 (a full disk or
#: a store that is down rarely comes back within a second), never more than RETRY_MAX_SECONDS.
RETRY_BASE_SECONDS = env_int("RETRY_BASE_SECONDS", 15, minimum=0)
RETRY_MAX_SECONDS = env_int("RETRY_MAX_SECONDS", 600, minimum=0)
#: Tries of one stage lost to a dead worker (killed, OOM, node gone) before the game fails.
#: They do not use up STAGE_ATTEMPTS (the stage did not fail), but a game that kills its
#: worker every time must not loop for ever.
STAGE_LOST_TRIES = env_int("STAGE_LOST_TRIES", 5, minimum=1)
#: How often `volley serve` (embedded) runs recovery in the background.
RECONCILE_SECONDS = env_int("RECONCILE_SECONDS", 60, minimum=1)

# --- quotas and throttles (front/limits.py; defaults and their reasons in volley/defaults.py) ---
#: Per user: browser uploads under way at once, the bytes they declare together, the bytes
#: of sources kept (uploads under way included), and games started per UTC day.
MAX_OPEN_UPLOADS = env_int("MAX_OPEN_UPLOADS", defaults.MAX_OPEN_UPLOADS, minimum=1)
MAX_BYTES_IN_FLIGHT = env_int("MAX_BYTES_IN_FLIGHT", defaults.MAX_BYTES_IN_FLIGHT, minimum=1)
MAX_BYTES_STORED = env_int("MAX_BYTES_STORED", defaults.MAX_BYTES_STORED, minimum=1)
MAX_GAMES_PER_DAY = env_int("MAX_GAMES_PER_DAY", defaults.MAX_GAMES_PER_DAY, minimum=1)
#: Log-in: wrong passwords per user name and client address before each try waits,
#: the first wait (doubling after each further failure), the longest, and how long
#: after the last failure they are forgotten. Wrong API tokens: per client address.
LOGIN_FREE_FAILURES = env_int("LOGIN_FREE_FAILURES", defaults.LOGIN_FREE_FAILURES, minimum=1)
LOGIN_DELAY_SECONDS = env_int("LOGIN_DELAY_SECONDS", defaults.LOGIN_DELAY_SECONDS, minimum=1)
LOGIN_MAX_DELAY_SECONDS = env_int("LOGIN_MAX_DELAY_SECONDS", defaults.LOGIN_MAX_DELAY_SECONDS, minimum=1)
LOGIN_FORGET_SECONDS = env_int("LOGIN_FORGET_SECONDS", defaults.LOGIN_FORGET_SECONDS, minimum=1)
TOKEN_FREE_FAILURES = env_int("TOKEN_FREE_FAILURES", defaults.TOKEN_FREE_FAILURES, minimum=1)
#: Proxies in front of Volley that append the address they saw to X-Forwarded-For: the
#: client's address is that many entries from its right end. Embedded: none (the
#: header is the client's to forge); production: the ingress (docs/operations.md).
FORWARDED_HOPS = env_int("FORWARDED_HOPS", 0 if EMBEDDED else 1, minimum=0)

"""Django settings for the test suite: production parts on loopback (PostgreSQL, Redis).
The S3 server is started per session by the `s3_server` fixture, which puts its
endpoint in the environment (the store reads it lazily).

Each test session gets its own test database and Redis db (by process id), so two
sessions on one machine (a developer and CI) do not trip over each other."""

import os

_session = os.getpid()
os.environ.setdefault("VOLLEY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/volley")
os.environ.setdefault("VOLLEY_REDIS_URL", f"redis://127.0.0.1:6379/{1 + _session % 15}")
os.environ.setdefault("VOLLEY_SECRET_KEY", "volley-test-secret")

from front.settings import *  # noqa: E402,F401,F403
from front.settings import DATABASES  # noqa: E402

DATABASES["default"]["TEST"] = {"NAME": f"test_volley_{_session}"}
# Close connections after each request: the live server's request threads come and go,
# and a kept connection would outlive its thread and block dropping the test database.
DATABASES["default"]["CONN_MAX_AGE"] = 0

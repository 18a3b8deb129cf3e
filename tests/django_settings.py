"""Django settings for the test suite: production parts on loopback (PostgreSQL, Redis
db 15). The S3 server is started per session by the `s3_server` fixture, which puts
its endpoint in the environment (the store reads it lazily)."""

import os

os.environ.setdefault("VOLLEY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/volley")
os.environ.setdefault("VOLLEY_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("VOLLEY_SECRET_KEY", "volley-test-secret")

from front.settings import *  # noqa: E402,F401,F403

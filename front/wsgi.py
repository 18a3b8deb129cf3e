"""WSGI entry point: `gunicorn front.wsgi` (`volley web`) serves the front in production.

New Relic starts here, before Django is imported, so its agent can instrument Django."""

import os

from volley import telemetry

telemetry.init("web")

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after the agent starts)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "front.settings")
application = get_wsgi_application()

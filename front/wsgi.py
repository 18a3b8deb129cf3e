"""WSGI entry point: `gunicorn front.wsgi` serves the front in production."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "front.settings")
application = get_wsgi_application()

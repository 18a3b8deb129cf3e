"""Django app config of the front."""

from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "front"
    verbose_name = "Volley"
    default_auto_field = "django.db.models.BigAutoField"

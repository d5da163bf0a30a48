from django.apps import AppConfig


class {{.Class}}Config(AppConfig):
    name = "{{.Module}}"

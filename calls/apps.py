from django.apps import AppConfig


class CallsConfig(AppConfig):
    name = "calls"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The tools agents.tools cannot build itself (agents must not import calls): send_sms
        # and the organization's integration and custom tools.
        from calls.bridge.integration_tools import integration_tools_register

        integration_tools_register()

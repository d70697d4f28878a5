from django.apps import AppConfig


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Portfolio"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tracker import (
            metrics,  # noqa: F401  (times every database connection's queries)
            observability,
        )

        observability.install_log_record_factory()

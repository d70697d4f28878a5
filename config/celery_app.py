"""The Celery application: configured from Django settings (CELERY_*), tasks autodiscovered."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tunefolio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

#: The filesystem transport's options that name folders; it does not create them itself.
FILESYSTEM_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


@app.on_after_configure.connect
def create_broker_folders(sender: Celery, **kwargs) -> None:
    """Create the embedded broker's folders, in whichever process first reads the config: the
    worker, beat, or the web process publishing a task."""
    if not str(sender.conf.broker_url or "").startswith("filesystem"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in FILESYSTEM_FOLDERS:
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)

"""Read by gunicorn from the working directory: prometheus multiprocess mode, so /metrics sums
the request and query metrics of every worker (see tracker/metrics.py)."""

import os
import shutil
import tempfile

# Set before any worker imports the client library; a deployment may choose its own folder.
metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(tempfile.gettempdir(), "tunefolio-prometheus")
)


def on_starting(server):
    # Samples from a previous master's workers would be summed in otherwise.
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

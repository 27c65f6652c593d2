# Replaces: a sidecar or cron loop that touches a heartbeat file: the Celery worker touches it itself.
#
# Import this module from the module that creates the Celery app (e.g. app/worker.py:
# `from . import heartbeat  # noqa: F401`). Celery sends an event heartbeat every 2 seconds
# while the worker's consumer runs; each one touches the file that the HEALTHCHECK
# `probe file /tmp/worker-heartbeat --max-age 60s` looks at. Heartbeats stop when the
# worker is started with --without-heartbeat: keep them on.
from pathlib import Path

from celery.signals import heartbeat_sent, worker_ready, worker_shutdown

HEARTBEAT = Path("/tmp/worker-heartbeat")


@worker_ready.connect
def _ready(**_):
    HEARTBEAT.touch()


@heartbeat_sent.connect
def _beat(**_):
    HEARTBEAT.touch()


@worker_shutdown.connect
def _shutdown(**_):
    HEARTBEAT.unlink(missing_ok=True)

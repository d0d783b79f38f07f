"""Entrypoint of the webhook worker: `celery -A worker.webhook_main worker` (its own queue).

Started as `worker.command` builds it (`make run`, the tests, the image's `webhook-worker`
role). Reads the settings once, here; imports no model code.
"""

from worker.settings import WorkerSettings
from worker.webhook_app import create_webhook_app

app = create_webhook_app(WorkerSettings.from_env())

"""Entrypoint of the newsnlp worker: `celery -A worker.main worker --queues newsnlp`.

The one module that does work at import, as Celery's `-A` needs: the settings are read
from the environment once, here, and the app is built from them. A worker on another
machine joins by pointing REDIS_URL at the same Redis.
"""

from worker.runtime import set_openmp_defaults

# Before anything loads torch: libgomp reads these once (worker/runtime.py says why).
set_openmp_defaults()

from jobs.env import ConfigError  # noqa: E402
from worker.app import create_app  # noqa: E402
from worker.preflight import ModelFolderMissing, RedisUnreachable  # noqa: E402
from worker.settings import WorkerSettings  # noqa: E402

try:
    app = create_app(WorkerSettings.from_env())
except (ConfigError, ModelFolderMissing, RedisUnreachable) as exc:
    # One line naming the cause, not a traceback inside Celery's "Unable to load" message.
    raise SystemExit(f"newsnlp worker not started: {exc}") from None

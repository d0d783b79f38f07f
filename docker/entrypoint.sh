#!/bin/sh
# Runs one role of newsnlp: `api`, `worker` or `webhook-worker`; anything else is exec'd
# as given.
# Every branch `exec`s, so the server replaces this shell as PID 1 and the orchestrator's
# SIGTERM reaches gunicorn (graceful stop) or Celery (warm shutdown: the running job ends).
set -eu
role="${1:-api}"
case "$role" in
  api)
    # /dev/shm for the worker heartbeat files: a container's /tmp may be a slow overlay.
    exec gunicorn --bind "0.0.0.0:${NEWSNLP_PORT:-8000}" \
      --workers "${NEWSNLP_API_WORKERS:-2}" \
      --graceful-timeout 10 --worker-tmp-dir /dev/shm \
      --worker-class api.server.ApiWorker --worker-connections 1000 --limit-request-line 8190 \
      --access-logfile - "api:create_app()"
    ;;
  worker|webhook-worker)
    # The command line is worker/command.py's, the one `make run` and the tests start
    # (both lanes; the concurrency NEWSNLP_WORKER_CONCURRENCY's, else one process a core of
    # the container's CPU quota while its memory allows); Python execs Celery in this same
    # process. One node name per container (%h: the container id, or the pod name), which
    # the image's HEALTHCHECK and the Kubernetes probes ping.
    exec python -m worker.command "$role"
    ;;
  *)
    exec "$@"
    ;;
esac

#!/bin/sh
# Runs one role of newsnlp. `exec` makes the server PID 1's child-free replacement,
# so that SIGTERM from the orchestrator reaches it directly.
set -eu
role="${1:-api}"
case "$role" in
  api)
    exec gunicorn --bind "0.0.0.0:${NEWSNLP_PORT:-8000}" \
      --workers "${NEWSNLP_API_WORKERS:-2}" --threads 4 --graceful-timeout 10 \
      --access-logfile - "api:create_app()"
    ;;
  worker)
    exec celery -A worker.app worker --queues newsnlp \
      --concurrency "${NEWSNLP_WORKER_CONCURRENCY:-1}" --loglevel INFO
    ;;
  *)
    exec "$@"
    ;;
esac

"""What each live worker runs: its models, from its heartbeat (`worker.app.Heartbeat`)."""

from __future__ import annotations

import json
from typing import Any

from flask.views import MethodView

from api.blueprint import Blueprint
from api.clients import clients
from api.errors import ApiError
from api.schemas import FleetSchema
from jobs.redis_errors import REDIS_ERRORS

blp = Blueprint("models", __name__, url_prefix="/v1/models", description="Models of the workers")


@blp.route("")
class Models(MethodView):
    @blp.response(200, FleetSchema)
    @blp.alt_response(503, description="Redis unreachable")
    def get(self) -> dict[str, Any]:
        """The models each live worker runs, by stage; `mixed` while they differ (a rolling
        upgrade half done)."""
        try:
            beats = clients().telemetry.worker_heartbeats()
        except REDIS_ERRORS:
            raise ApiError(
                503, "redis_unavailable", "The job queue is unreachable.", {"redis": ["down"]},
                {"Retry-After": "5"},
            ) from None  # fmt: skip
        workers = [
            {
                "name": name,
                "heartbeat_at": beat.get("at"),
                "concurrency": beat.get("concurrency"),
                "models": beat.get("models") or {},
            }
            for name, beat in sorted(beats.items())
        ]
        variants = {json.dumps(w["models"], sort_keys=True) for w in workers}
        return {"workers": workers, "mixed": len(variants) > 1}

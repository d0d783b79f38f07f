"""Liveness of the API process."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

blp = Blueprint("health", __name__, description="Health checks")


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, str]:
        """Liveness: 200 while the process serves requests; checks nothing else."""
        return {"status": "ok"}

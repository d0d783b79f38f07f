"""Health, readiness and metrics of the service."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from api.blueprint import Blueprint
from api.clients import clients
from api.errors import ApiError
from jobs.contract import LANE_QUEUES
from jobs.redis_errors import REDIS_ERRORS, is_out_of_memory
from jobs.store import JobStore
from jobs.telemetry import Telemetry, histograms

# The key /readyz writes (and lets expire): proof that Redis takes writes.
READY_PROBE_KEY = "newsnlp:readyz-probe"

blp = Blueprint("health", __name__, description="Health, readiness and metrics")


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, str]:
        """Liveness: 200 while the process serves requests; checks nothing else."""
        return {"status": "ok"}


class ReadyArgs(ma.Schema):
    workers = ma.fields.String(
        load_default="required",
        validate=ma.validate.OneOf(["required", "optional"]),
        metadata={"description": "`optional`: ready with Redis alone (workers scaled to 0)"},
    )


@blp.route("/readyz")
class Ready(MethodView):
    @blp.arguments(ReadyArgs(), location="query")
    @blp.response(200)
    @blp.alt_response(503, description="Redis unreachable or no live worker")
    def get(self, args: dict[str, str]) -> dict[str, Any]:
        """Readiness: Redis answers and takes a write, and a worker's heartbeat is fresh.

        The write (a few bytes, expiring) finds a Redis that answers reads but refuses
        every write (full, at its `maxmemory`): the API would then refuse every job.

        With `?workers=optional` a live worker is not required: for deployments that scale
        workers from zero on the queue length, where the API must accept jobs meanwhile.
        """
        telemetry = clients().telemetry
        try:
            telemetry.client.set(READY_PROBE_KEY, "1", ex=60)
            workers = telemetry.live_workers()
        except REDIS_ERRORS as exc:
            if is_out_of_memory(exc):
                raise ApiError(
                    503, "redis_unavailable", "The job queue is full: it refuses writes.",
                    {"redis": ["full"]}, {"Retry-After": "5"},
                ) from None  # fmt: skip
            raise ApiError(
                503, "redis_unavailable", "The job queue is unreachable.", {"redis": ["down"]},
                {"Retry-After": "5"},
            ) from None  # fmt: skip
        if not workers and args["workers"] == "required":
            raise ApiError(
                503, "no_worker", "No live worker: jobs would wait.", {"workers": ["none"]},
                {"Retry-After": "5"},
            )  # fmt: skip
        return {"status": "ready", "redis": "ok", "workers": workers}


class RedisMetricsCollector:
    """Exposes the cluster-wide figures kept in Redis (jobs.telemetry) at scrape time."""

    def __init__(self, telemetry: Telemetry, store: JobStore) -> None:
        self.telemetry = telemetry
        self.store = store

    def collect(self):  # type: ignore[no-untyped-def]
        snapshot = self.telemetry.snapshot()
        submitted = CounterMetricFamily(
            "newsnlp_jobs_submitted", "Jobs accepted by the API, by task", labels=["task"]
        )
        ended = CounterMetricFamily(
            "newsnlp_jobs_ended",
            "Jobs that ended, by task and status (succeeded, failed, canceled)",
            labels=["task", "status"],
        )
        for key, value in sorted(snapshot.items()):
            parts = key.split("|")
            if parts[0] == "submitted":
                submitted.add_metric([parts[1]], float(value))
            elif parts[0] == "ended":
                ended.add_metric([parts[1], parts[2]], float(value))
        yield submitted
        yield ended
        depth = GaugeMetricFamily(
            "newsnlp_queue_depth", "Messages waiting in each lane's queue", labels=["queue"]
        )
        queued_jobs = GaugeMetricFamily(
            "newsnlp_queued_jobs",
            "Jobs accepted and not ended yet, per lane, as NEWSNLP_MAX_QUEUED_JOBS caps them",
            labels=["priority"],
        )
        queued_bytes = GaugeMetricFamily(
            "newsnlp_queued_bytes",
            "Bytes of their requests and messages, as NEWSNLP_MAX_QUEUED_BYTES caps them",
            labels=["priority"],
        )
        for priority, queue in LANE_QUEUES.items():
            depth.add_metric([queue], self.telemetry.queue_depth(queue))
            jobs, size = self.store.queued(priority)
            queued_jobs.add_metric([priority.value], jobs)
            queued_bytes.add_metric([priority.value], size)
        yield depth
        yield queued_jobs
        yield queued_bytes
        yield GaugeMetricFamily(
            "newsnlp_workers_live",
            "Workers with a fresh heartbeat",
            value=len(self.telemetry.live_workers()),
        )
        duration = HistogramMetricFamily(
            "newsnlp_job_duration_seconds", "Run time of a job on a worker", labels=[]
        )
        for hist in histograms(snapshot, "job_duration").values():
            duration.add_metric([], list(hist.buckets.items()), hist.total)
        yield duration
        model = HistogramMetricFamily(
            "newsnlp_model_seconds", "Time in each model stage of a job", labels=["stage"]
        )
        for stage, hist in sorted(histograms(snapshot, "model").items()):
            model.add_metric([stage], list(hist.buckets.items()), hist.total)
        yield model


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(responses={"200": {"description": "Prometheus text format"}})
    def get(self) -> Response:
        """Metrics of the whole service in the Prometheus text format."""
        registry = CollectorRegistry(auto_describe=False)
        svc = clients()
        registry.register(RedisMetricsCollector(svc.telemetry, svc.store))  # type: ignore[arg-type]
        return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")

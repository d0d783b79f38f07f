"""Worker settings, read once from the environment at the worker's entrypoint."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from jobs.env import env_bool, env_choice, env_float, env_int, env_str
from jobs.redis_target import RedisTarget, redis_target_from_env
from jobs.webhooks import parse_allowlist
from worker import machine

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STANCE_MODEL = REPO_ROOT / "models" / "stance"


@dataclass(frozen=True)
class WorkerSettings:
    redis_url: str
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    redis_master: str = "newsnlp"
    redis_min_replicas: int = 0
    redis_replica_timeout_ms: int = 1000
    job_ttl_seconds: int = 86_400
    soft_time_limit: int = 120
    time_limit: int = 150
    visibility_timeout: int = 600
    sweep_interval: int = 60  # seconds between sweeps for lost messages (jobs.sweeper); 0: none
    max_attempts: int = 3
    torch_threads: int = 0  # 0: the cores divided by the processes of this worker
    encoder: str = "torch"
    encoder_dtype: str = "auto"  # auto: bfloat16 where the CPU computes it natively
    encoder_cache_size: int = 20_000
    onnx_model: str | None = None
    concurrency: int = 1  # pool processes; from_env: the machine's default (worker.machine)
    preload_models: bool = True
    summarizer: str = "extractive"
    summarizer_model: str | None = None
    summary_position_weight: float = 2.0
    summarizer_beams: int = 4
    summarizer_min_tokens: int = 56
    summarizer_max_tokens: int = 142
    stance_backend: str = "trained"
    stance_model: str = str(DEFAULT_STANCE_MODEL)
    nli_model: str | None = None
    webhook_secret: str | None = None
    webhook_allowlist: tuple[str, ...] = ()
    webhook_timeout: float = 10.0
    webhook_max_retries: int = 6

    @property
    def redis(self) -> RedisTarget:
        """Where the worker's Redis is (jobs.redis_target)."""
        return RedisTarget(
            url=self.redis_url,
            sentinels=self.redis_sentinels,
            master=self.redis_master,
            min_replicas=self.redis_min_replicas,
            replica_timeout_ms=self.redis_replica_timeout_ms,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerSettings:
        env = os.environ if env is None else env
        soft = env_int(env, "NEWSNLP_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
        hard = env_int(env, "NEWSNLP_TASK_TIME_LIMIT", soft + 30, minimum=soft + 1)
        redis = redis_target_from_env(env)
        return cls(
            redis_url=redis.url,
            redis_sentinels=redis.sentinels,
            redis_master=redis.master,
            redis_min_replicas=redis.min_replicas,
            redis_replica_timeout_ms=redis.replica_timeout_ms,
            job_ttl_seconds=env_int(env, "NEWSNLP_JOB_TTL_SECONDS", 86_400, minimum=60),
            soft_time_limit=soft,
            time_limit=hard,
            visibility_timeout=env_int(
                env, "NEWSNLP_VISIBILITY_TIMEOUT", max(600, 2 * hard), minimum=hard + 1
            ),
            sweep_interval=env_int(env, "NEWSNLP_SWEEP_INTERVAL_SECONDS", 60, minimum=0),
            max_attempts=env_int(env, "NEWSNLP_MAX_ATTEMPTS", 3, minimum=1),
            torch_threads=env_int(env, "NEWSNLP_TORCH_THREADS", 0, minimum=0),
            encoder=env_choice(env, "NEWSNLP_ENCODER", "torch", ("torch", "onnx")),
            encoder_dtype=env_choice(
                env, "NEWSNLP_ENCODER_DTYPE", "auto", ("auto", "float32", "bfloat16")
            ),
            encoder_cache_size=env_int(env, "NEWSNLP_ENCODER_CACHE_SIZE", 20_000, minimum=0),
            onnx_model=env_str(env, "NEWSNLP_ONNX_MODEL", None),
            concurrency=env_int(
                env, "NEWSNLP_WORKER_CONCURRENCY", machine.default_worker_concurrency(), minimum=1
            ),
            preload_models=env_bool(env, "NEWSNLP_PRELOAD_MODELS", True),
            summarizer=env_choice(
                env, "NEWSNLP_SUMMARIZER", "extractive", ("extractive", "seq2seq")
            ),
            summarizer_model=env_str(env, "NEWSNLP_SUMMARIZER_MODEL", None),
            summary_position_weight=env_float(env, "NEWSNLP_SUMMARY_POSITION_WEIGHT", 2.0),
            summarizer_beams=env_int(env, "NEWSNLP_SUMMARIZER_BEAMS", 4, minimum=1),
            summarizer_min_tokens=env_int(env, "NEWSNLP_SUMMARIZER_MIN_TOKENS", 56, minimum=0),
            summarizer_max_tokens=env_int(env, "NEWSNLP_SUMMARIZER_MAX_TOKENS", 142, minimum=1),
            stance_backend=env_choice(
                env, "NEWSNLP_STANCE_BACKEND", "trained", ("trained", "similarity", "nli")
            ),
            stance_model=env_str(env, "NEWSNLP_STANCE_MODEL", str(DEFAULT_STANCE_MODEL)) or "",
            nli_model=env_str(env, "NEWSNLP_NLI_MODEL", None),
            webhook_secret=env_str(env, "NEWSNLP_WEBHOOK_SECRET", None),
            webhook_allowlist=parse_allowlist(env_str(env, "NEWSNLP_WEBHOOK_ALLOWLIST", None)),
            webhook_timeout=env_float(env, "NEWSNLP_WEBHOOK_TIMEOUT", 10.0, minimum=0.1),
            webhook_max_retries=env_int(env, "NEWSNLP_WEBHOOK_MAX_RETRIES", 6, minimum=0),
        )

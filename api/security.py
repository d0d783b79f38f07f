"""Optional API keys, a per-client rate limit, and a limit on wrong keys per address.

API keys are given as SHA-256 hex digests (NEWSNLP_API_KEYS="name=digest,..." or just
digests), so the environment never holds a usable key. A key's digest is its tenant: the
jobs, batches and idempotency keys it creates are its own (`g.owner`), and other keys are
told they do not exist. The rate limit is a fixed window per minute and per client (its
key's name, else its address), counted in Redis so that every API process on every machine
shares it. Wrong keys are counted per address the same way: over the limit, that address
gets 429 for the rest of the minute, whatever key it sends (else a guess that succeeds
would still show as one).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import current_app, g, request

from api.clients import clients
from api.errors import ApiError

# Served to anyone unless NEWSNLP_PROTECT_OPS: they name workers and count jobs.
OPS_PATHS = ("/metrics", "/readyz")


def parse_api_keys(raw: str | None) -> dict[str, str]:
    """{digest: name} from "name=digest,digest,..."; a malformed digest is an error."""
    keys: dict[str, str] = {}
    for i, item in enumerate(part.strip() for part in (raw or "").split(",")):
        if not item:
            continue
        name, _, digest = item.rpartition("=")
        digest = digest.strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"NEWSNLP_API_KEYS entry {i + 1} is not a SHA-256 hex digest")
        keys[digest] = name.strip() or f"key{i + 1}"
    return keys


def _presented_key() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("X-API-Key") or None


def _needs_key() -> bool:
    if request.path.startswith("/v1/"):
        return True
    return bool(current_app.config.get("PROTECT_OPS")) and request.path in OPS_PATHS


def authenticate() -> None:
    """before_request: with keys configured, /v1 (and with PROTECT_OPS, /metrics and
    /readyz) needs one of them. Sets `g.client` (the rate limit's name of the client) and
    `g.owner` (the tenant: the key's digest, "" without keys)."""
    keys: dict[str, str] = current_app.config["API_KEYS"]
    g.owner = ""
    if not _needs_key():
        return
    if not keys:
        g.client = request.remote_addr or "unknown"
        return
    presented = _presented_key()
    if presented is None:
        raise ApiError(
            401, "missing_api_key", "Send an API key: Authorization: Bearer <key>.",
            headers={"WWW-Authenticate": 'Bearer realm="newsnlp"'},
        )  # fmt: skip
    failures = _AuthFailures()
    failures.refuse_if_over()
    digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
    for known, name in keys.items():
        if hmac.compare_digest(known, digest):
            g.client = name
            g.owner = known
            return
    failures.add()
    raise ApiError(403, "invalid_api_key", "This API key is not valid.")


class _AuthFailures:
    """Wrong keys sent from this request's address in the current minute."""

    def __init__(self) -> None:
        self.limit: int = current_app.config.get("AUTH_FAILURES_PER_MINUTE", 0)
        self.now = time.time()
        address = request.remote_addr or "unknown"
        self.key = f"newsnlp:authfail:{address}:{int(self.now // 60)}"

    def refuse_if_over(self) -> None:
        if self.limit <= 0:
            return
        count = int(clients().store.client.get(self.key) or 0)
        if count >= self.limit:
            raise _too_many(f"More than {self.limit} wrong API keys a minute.", self.now)

    def add(self) -> None:
        if self.limit <= 0:
            return
        pipe = clients().store.client.pipeline(transaction=True)
        pipe.incr(self.key)
        pipe.expire(self.key, 61)
        pipe.execute()


def _too_many(message: str, now: float) -> ApiError:
    retry_after = max(1, int(60 - now % 60))
    return ApiError(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})


def rate_limit() -> None:
    """before_request: at most RATE_LIMIT_PER_MINUTE /v1 requests a minute per client."""
    if request.path.startswith("/v1/"):
        charge(1)


def charge(requests: int) -> None:
    """Count `requests` against the client's rate limit (a batch of N jobs counts N); 429
    once over it."""
    limit: int = current_app.config["RATE_LIMIT_PER_MINUTE"]
    if limit <= 0 or requests <= 0:
        return
    now = time.time()
    window = int(now // 60)
    key = f"newsnlp:rate:{g.get('client', 'unknown')}:{window}"
    client = clients().store.client
    pipe = client.pipeline(transaction=True)
    pipe.incrby(key, requests)
    pipe.expire(key, 61)
    count, _ = pipe.execute()
    if count > limit:
        raise _too_many(f"More than {limit} requests a minute; slow down.", now)


def owns(owner: str) -> bool:
    """Whether the client may see a job or batch of `owner`: with keys on, only its own key
    may (anyone else is answered as if it did not exist); without keys, anyone."""
    return not current_app.config["API_KEYS"] or hmac.compare_digest(owner, g.get("owner", ""))

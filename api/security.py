"""Optional API keys and a per-client rate limit, both for the /v1 resources.

API keys are given as SHA-256 hex digests (NEWSNLP_API_KEYS="name=digest,..." or just
digests), so the environment never holds a usable key. The rate limit is a fixed window
per minute and per client (its key's name, else its address), counted in Redis so that
every API process on every machine shares it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from flask import current_app, g, request

from api.clients import clients
from api.errors import ApiError


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


def authenticate() -> None:
    """before_request: with keys configured, /v1 needs one of them."""
    keys: dict[str, str] = current_app.config["API_KEYS"]
    if not request.path.startswith("/v1/"):
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
    digest = hashlib.sha256(presented.encode("utf-8")).hexdigest()
    for known, name in keys.items():
        if hmac.compare_digest(known, digest):
            g.client = name
            return
    raise ApiError(403, "invalid_api_key", "This API key is not valid.")


def rate_limit() -> None:
    """before_request: at most RATE_LIMIT_PER_MINUTE /v1 requests a minute per client."""
    limit: int = current_app.config["RATE_LIMIT_PER_MINUTE"]
    if limit <= 0 or not request.path.startswith("/v1/"):
        return
    now = time.time()
    window = int(now // 60)
    key = f"newsnlp:rate:{g.get('client', 'unknown')}:{window}"
    client = clients().store.client
    pipe = client.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, 61)
    count, _ = pipe.execute()
    if count > limit:
        retry_after = max(1, int(60 - now % 60))
        raise ApiError(
            429, "rate_limited", f"More than {limit} requests a minute; slow down.",
            headers={"Retry-After": str(retry_after)},
        )  # fmt: skip

"""A small Python client of the newsnlp HTTP API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from jobs.contract import TERMINAL_STATUSES as TERMINAL


class ApiError(Exception):
    """An error answer of the API, with its stable string `code` (`reason`: the same)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        code = body.get("code")
        # An API from before `code` was the string (then an int) sent it as `reason`.
        self.code = code if isinstance(code, str) else body.get("reason", "unknown")
        self.reason = self.code
        self.body = body
        super().__init__(f"{status} {self.code}: {body.get('message', '')}")


@dataclass
class NewsnlpClient:
    base_url: str = "http://127.0.0.1:8000"
    api_key: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session = requests.Session()
        if self.api_key:
            self.session.headers["Authorization"] = f"Bearer {self.api_key}"

    def _call(self, method: str, path: str, timeout: float | None = None, **kwargs: Any) -> Any:
        response = self.session.request(
            method, self.base_url + path, timeout=timeout or self.timeout, **kwargs
        )
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:500]}
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def submit(
        self,
        text: str | None = None,
        *,
        html: str | None = None,
        title: str | None = None,
        claims: list[str] | None = None,
        tasks: list[str] | None = None,
        max_sentences: int | None = None,
        max_words: int | None = None,
        idempotency_key: str | None = None,
        priority: str | None = None,
    ) -> str:
        """Submit one article (`priority`: "interactive", the API's default, or "bulk");
        returns the job id."""
        article: dict[str, Any] = {"text": text} if html is None else {"html": html}
        if title:
            article["title"] = title
        job: dict[str, Any] = {"article": article}
        if claims:
            job["claims"] = claims
        if tasks:
            job["tasks"] = tasks
        if priority:
            job["priority"] = priority
        summary = {k: v for k, v in (("max_sentences", max_sentences), ("max_words", max_words))
                   if v is not None}  # fmt: skip
        if summary:
            job["options"] = {"summary": summary}
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._call("POST", "/v1/jobs", json=job, headers=headers)["id"]

    def get(self, job_id: str, wait: float = 0) -> dict[str, Any]:
        params = {"wait": wait} if wait else {}
        return self._call("GET", f"/v1/jobs/{job_id}", params=params, timeout=wait + self.timeout)

    def wait(self, job_id: str, timeout: float = 300) -> dict[str, Any]:
        """Long-poll until the job ends (or `timeout` seconds pass: TimeoutError)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"job {job_id} did not end within {timeout} s")
            asked = time.monotonic()
            job = self.get(job_id, wait=min(30.0, remaining))
            if job["status"] in TERMINAL:
                return job
            # Answered at once (the server's waits are all taken): pause before asking again.
            if time.monotonic() - asked < 1.0:
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._call("DELETE", f"/v1/jobs/{job_id}")

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/healthz")

    def close(self) -> None:
        self.session.close()

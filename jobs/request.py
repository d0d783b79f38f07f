"""JobRequest: what a job asks for, as the API records it and the worker reads it back.

The request travels from the API to the worker inside the job's record (the queue message
carries only the job id), as the plain dict of `to_dict`. `from_dict` is the one place that
says what a missing key means, so that a record written by an older API (no `priority`, no
`options`, `claims` as null) still reads. `to_dict` writes exactly the dict the API's schema
produced before this type existed: a repeated request hashes the same
(`jobs.records.request_hash`), across a deploy too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.contract import Priority


@dataclass(frozen=True)
class JobRequest:
    """One job's request, validated (by the API's schema) or read back from its record."""

    tasks: tuple[str, ...]
    text: str | None = None
    html: str | None = None
    title: str | None = None
    claims: tuple[str, ...] = ()
    max_sentences: int | None = None
    max_words: int | None = None
    callback_url: str | None = None
    priority: Priority = Priority.INTERACTIVE

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobRequest:
        article = data.get("article") or {}
        summary = (data.get("options") or {}).get("summary") or {}
        return cls(
            tasks=tuple(data["tasks"]),
            text=article.get("text"),
            html=article.get("html"),
            title=article.get("title"),
            claims=tuple(data.get("claims") or ()),
            max_sentences=summary.get("max_sentences"),
            max_words=summary.get("max_words"),
            callback_url=data.get("callback_url"),
            priority=Priority(data.get("priority") or Priority.INTERACTIVE),
        )

    def to_dict(self) -> dict[str, Any]:
        article: dict[str, Any] = {"title": self.title}
        if self.html is not None:
            article["html"] = self.html
        else:
            article["text"] = self.text
        lengths = {"max_sentences": self.max_sentences, "max_words": self.max_words}
        summary = {name: value for name, value in lengths.items() if value is not None}
        return {
            "article": article,
            "claims": list(self.claims),
            "tasks": list(self.tasks),
            "options": {"summary": summary},
            "callback_url": self.callback_url,
            "priority": self.priority.value,
        }

"""Domain errors a caller can act on; each carries a stable code."""

from __future__ import annotations


class AnalysisError(Exception):
    """An article that cannot be analysed as given. `code` is stable; `message` is for people."""

    code = "analysis_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyArticleError(AnalysisError):
    code = "article_empty"


class ModelLoadError(RuntimeError):
    """A model folder is missing or unreadable: the worker cannot start without it."""

"""The per-app clients the views use: the job store and the Celery producer."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from flask import current_app

from jobs.store import JobStore


@dataclass(frozen=True)
class ApiServices:
    store: JobStore
    celery: Celery


def services() -> ApiServices:
    return current_app.extensions["newsnlp"]

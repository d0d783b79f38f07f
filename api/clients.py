"""The per-app clients the views use: the job store, telemetry and the Celery producer."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery
from flask import Flask, current_app

from api.waits import WaitSlots
from jobs.store import JobStore
from jobs.telemetry import Telemetry


@dataclass(frozen=True)
class ApiClients:
    store: JobStore
    telemetry: Telemetry
    celery: Celery
    waits: WaitSlots


def close_clients(app: Flask) -> None:
    """Release the app's Redis connections (at shutdown, and between tests)."""
    svc: ApiClients = app.extensions["newsnlp"]
    svc.celery.close()
    svc.store.client.close()


def clients() -> ApiClients:
    return current_app.extensions["newsnlp"]

"""HTTP API (Starlette): devices and their readings, health, readiness and metrics."""

from __future__ import annotations

import json
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from telemetry.metrics import Metrics
from telemetry.pipeline import State
from telemetry.schema import DEVICE_ID
from telemetry.store import Store, Unavailable

MAX_LIMIT = 1000


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _since(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"since={raw!r}: not an ISO 8601 time, e.g. 2026-01-01T00:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"since={raw!r}: add a time zone, e.g. {raw}Z")
    return value


def _limit(raw: str | None) -> int:
    if raw is None:
        return 100
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValueError(f"limit={raw!r}: an integer from 1 to {MAX_LIMIT}")
    return int(raw)


async def health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """200 while subscribed to the broker and the database answers; 503 says which is not."""
    state = request.app.state
    checks = {"broker": state.pipeline.broker, "database": await state.store.ping()}
    return JSONResponse(checks, status_code=200 if all(checks.values()) else 503)


async def metrics_page(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def devices(request: Request) -> Response:
    try:
        rows = await request.app.state.store.devices()
    except Unavailable:
        return _error(503, "database unavailable; retry shortly")
    return JSONResponse({"devices": [_device(r) for r in rows]})


async def readings(request: Request) -> Response:
    device = request.path_params["device"]
    if not DEVICE_ID.match(device):
        return _error(400, f"device id {device!r} is not [A-Za-z0-9_.-]{{1,64}}")
    query = request.query_params
    try:
        since, limit = _since(query.get("since")), _limit(query.get("limit"))
    except ValueError as exc:
        return _error(400, str(exc))
    try:
        rows = await request.app.state.store.readings(device, since, limit)
    except Unavailable:
        return _error(503, "database unavailable; retry shortly")
    if not rows and since is None:
        return _error(404, f"no readings from device {device!r}; GET /api/devices lists them")
    return JSONResponse({"device": device, "readings": [_reading(r) for r in rows]})


def create_app(store: Store, state: State, metrics: Metrics) -> Starlette:
    """The ASGI app over one store, the pipeline's state and its metrics."""
    app = Starlette(
        routes=[
            Route("/health", health),
            Route("/ready", ready),
            Route("/metrics", metrics_page),
            Route("/api/devices", devices),
            Route("/api/devices/{device}/readings", readings),
        ]
    )
    app.state.store, app.state.pipeline, app.state.metrics = store, state, metrics
    return app


def _device(row) -> dict[str, object]:
    return {
        "id": row["device"],
        "readings": row["readings"],
        "last_seen": row["last_seen"].isoformat(),
    }


def _reading(row) -> dict[str, object]:
    return {
        "id": row["id"],
        "seq": row["seq"],
        "ts": row["ts"].isoformat(),
        "values": json.loads(row["values"]),
        "stored_at": row["stored_at"].isoformat(),
    }

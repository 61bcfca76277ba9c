"""Start and stop: with `Recreate` the service is down on every rollout from its old pod's
SIGTERM until its new pod is ready, so both ends are kept short, and a stop stays graceful."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import httpx
import uvicorn
from infra import HOST, free_port
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from telemetry.service import _Server


def test_the_service_starts_without_loading_the_reading_model():
    """pydantic and the reading model (~0.15 s) load with the first message, not at start."""
    probe = (
        "import sys, telemetry.service; print(sorted(m for m in sys.modules if 'pydantic' in m))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


ANSWERED: list[float] = []  # when the slow route answered, server side


async def _slow(request):
    await asyncio.sleep(float(request.query_params.get("s", "0")))
    ANSWERED.append(time.monotonic())
    return PlainTextResponse("done")


async def _serving(port: int) -> tuple[_Server, asyncio.Task]:
    app = Starlette(routes=[Route("/", _slow)])
    server = _Server(uvicorn.Config(app, host=HOST, port=port, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.005)
    return server, task


def test_a_stop_returns_at_once_with_an_idle_keep_alive_connection_open():
    """uvicorn alone noticed the stop on its next 0.1 s tick, then paused 0.1 s more."""

    async def scenario() -> float:
        server, task = await _serving(port := free_port())
        async with httpx.AsyncClient() as client:  # keeps its connection open
            assert (await client.get(f"http://{HOST}:{port}/")).text == "done"
            started = time.monotonic()
            server.stop()
            await task
            return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.08


def test_a_request_in_flight_at_the_stop_is_answered_before_the_server_returns():
    async def scenario() -> tuple[str, float]:
        server, task = await _serving(port := free_port())
        async with httpx.AsyncClient() as client:
            request = asyncio.create_task(client.get(f"http://{HOST}:{port}/", params={"s": "0.3"}))
            await asyncio.sleep(0.1)
            ANSWERED.clear()
            server.stop()
            await task
            returned = time.monotonic()
            assert ANSWERED, "the server returned before the request in flight was answered"
            return (await request).text, returned - ANSWERED[0]

    text, after = asyncio.run(scenario())
    assert text == "done"
    assert 0 <= after < 0.08  # and it returned soon after

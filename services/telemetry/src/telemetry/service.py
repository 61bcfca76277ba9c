"""Run the service: subscriber, writer and HTTP server in one event loop until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from telemetry import pipeline
from telemetry.api import create_app
from telemetry.metrics import Metrics
from telemetry.settings import Settings
from telemetry.store import Store

log = logging.getLogger("telemetry")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT; readings still buffered then are logged as dropped."""
    metrics, state = Metrics(), pipeline.State()
    buffer = pipeline.Buffer(settings.buffer_limit, metrics)
    store = Store(settings.database_url)
    config = uvicorn.Config(
        create_app(store, state, metrics),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    workers = [
        asyncio.create_task(pipeline.subscribe(settings, buffer, state, metrics)),
        asyncio.create_task(pipeline.write(store, buffer, state, metrics, settings.batch_size)),
    ]
    try:
        await server.serve()
    finally:
        await _drain(buffer)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await store.close()
        if buffer.items:
            metrics.dropped.labels("shutdown").inc(len(buffer.items))
            log.warning("stopping with %d readings not stored", len(buffer.items))


async def _drain(buffer: pipeline.Buffer, seconds: float = 5.0) -> None:
    """Give the writer a few seconds to store what is buffered before stopping."""
    deadline = asyncio.get_running_loop().time() + seconds
    while buffer.items and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)

"""The two loops of the service: MQTT messages into a bounded buffer, buffer into the database."""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass, field

import aiomqtt

from telemetry import schema
from telemetry.backoff import Backoff
from telemetry.metrics import Metrics
from telemetry.settings import Settings
from telemetry.store import Store, Unavailable

log = logging.getLogger("telemetry")


@dataclass
class State:
    broker: bool = False
    database: bool = False


@dataclass
class Buffer:
    """Readings acknowledged to the broker but not yet stored; full means dropped, and counted."""

    limit: int
    metrics: Metrics
    items: collections.deque = field(default_factory=collections.deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    dropped: int = 0

    def put(self, item: tuple[str, schema.Reading]) -> None:
        if len(self.items) >= self.limit:
            self.dropped += 1
            self.metrics.dropped.labels("buffer_full").inc()
            if self.dropped % 1000 == 1:  # the first, then every 1000th: logs stay readable
                log.warning(
                    "buffer full (%d readings): dropped %s/%s (%d dropped so far)",
                    self.limit, item[0], item[1].id, self.dropped,
                )  # fmt: skip
            return
        self.items.append(item)
        self.metrics.buffered.set(len(self.items))
        self.ready.set()

    async def peek(self, size: int) -> list[tuple[str, schema.Reading]]:
        """Up to `size` of the oldest readings, waiting for one; they stay until `drop`."""
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        return [self.items[i] for i in range(min(size, len(self.items)))]

    def drop(self, count: int) -> None:
        for _ in range(count):
            self.items.popleft()
        self.metrics.buffered.set(len(self.items))


def accept(message: aiomqtt.Message, buffer: Buffer, metrics: Metrics) -> None:
    """Validate one message into the buffer; a bad one is counted and logged, never raised."""
    metrics.received.inc()
    payload = message.payload if isinstance(message.payload, bytes) else b""
    try:
        buffer.put(schema.parse(message.topic.value, payload))
    except schema.Rejected as exc:
        metrics.rejected.labels(exc.reason).inc()
        log.warning("rejected message on %s: %s", message.topic.value, exc)


async def subscribe(settings: Settings, buffer: Buffer, state: State, metrics: Metrics) -> None:
    """Stay subscribed (QoS 1, persistent session), reconnecting with backoff forever."""
    b = settings.broker
    backoff = Backoff()
    while True:
        client = aiomqtt.Client(
            b.host,
            b.port,
            username=b.username,
            password=b.password,
            identifier=b.client_id,  # fixed id + clean_session=False: the broker queues for us
            clean_session=False,
            tls_context=b.tls_context(),
            keepalive=15,
        )
        try:
            async with client:
                await client.subscribe(settings.topic, qos=1)
                state.broker = True
                metrics.broker_up.set(1)
                metrics.reconnects.inc()
                backoff.reset()
                log.info(
                    "subscribed to %s on %s:%d as %s", settings.topic, b.host, b.port, b.client_id
                )
                async for message in client.messages:
                    accept(message, buffer, metrics)
        except aiomqtt.MqttError as exc:
            log.warning("broker %s:%d: %s; reconnecting", b.host, b.port, exc)
        finally:
            state.broker = False
            metrics.broker_up.set(0)
        await asyncio.sleep(backoff.next())


def _observe(batch: list[tuple[str, schema.Reading]], metrics: Metrics) -> None:
    now = time.time()
    delays = [now - r.ts.timestamp() for _, r in batch]
    for delay in delays:
        metrics.latency.observe(max(delay, 0.0))
    metrics.lag.set(max(*delays, 0.0))


async def write(store: Store, buffer: Buffer, state: State, metrics: Metrics, size: int) -> None:
    """Store the buffer in batches; while the database is away, keep the readings and retry."""
    backoff = Backoff()
    while True:
        batch = await buffer.peek(size)
        try:
            new = await store.insert(batch)
        except Unavailable as exc:
            delay = backoff.next()
            if state.database or backoff.attempt == 1:
                log.warning(
                    "database unavailable (%s); %d readings kept, retrying", exc, len(buffer.items)
                )
            state.database = False
            metrics.database_up.set(0)
            await asyncio.sleep(delay)
            continue
        if not state.database:
            log.info("database connected")
        state.database = True
        metrics.database_up.set(1)
        backoff.reset()
        buffer.drop(len(batch))
        metrics.stored.inc(new)
        metrics.duplicate.inc(len(batch) - new)
        _observe(batch, metrics)

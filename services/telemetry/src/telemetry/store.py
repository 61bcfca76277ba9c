"""PostgreSQL storage (asyncpg): schema `telemetry`, one row per (device, reading id)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from telemetry.reading import Reading

SCHEMA = """
CREATE SCHEMA IF NOT EXISTS telemetry;
CREATE TABLE IF NOT EXISTS telemetry.readings (
    device    text        NOT NULL,
    id        text        NOT NULL,
    seq       bigint      NOT NULL,
    ts        timestamptz NOT NULL,
    "values"  jsonb       NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (device, id)
);
CREATE INDEX IF NOT EXISTS readings_device_ts ON telemetry.readings (device, ts);
"""

INSERT = """
INSERT INTO telemetry.readings (device, id, seq, ts, "values")
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::jsonb[])
ON CONFLICT (device, id) DO NOTHING
"""

DEVICES = """
SELECT device, count(*) AS readings, max(ts) AS last_seen
FROM telemetry.readings GROUP BY device ORDER BY device
"""

READINGS = """
SELECT id, seq, ts, "values", stored_at FROM telemetry.readings
WHERE device = $1 AND ts >= $2 ORDER BY ts, seq LIMIT $3
"""

# what a lost, refused or restarting database looks like to asyncpg
UNAVAILABLE = (OSError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


class Unavailable(RuntimeError):
    """The database cannot be reached or refused the statement."""


class Store:
    """A connection pool made on first use, so the service starts while the database is down."""

    def __init__(self, dsn: str | None, timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._timeout = timeout
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _ready_pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                pool = await asyncpg.create_pool(
                    self._dsn, min_size=1, max_size=4, timeout=self._timeout
                )
                try:
                    await pool.execute(SCHEMA, timeout=self._timeout)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
            return self._pool

    async def _run(self, method: str, *args: object) -> object:
        try:
            pool = await self._ready_pool()
            return await getattr(pool, method)(*args, timeout=self._timeout)
        except UNAVAILABLE as exc:
            raise Unavailable(f"{type(exc).__name__}: {exc}") from exc

    async def insert(self, batch: list[tuple[str, Reading]]) -> int:
        """Store a batch in one statement; returns how many were new (the rest: redeliveries)."""
        columns = (
            [d for d, _ in batch],
            [r.id for _, r in batch],
            [r.seq for _, r in batch],
            [r.ts for _, r in batch],
            [json.dumps(r.values) for _, r in batch],
        )
        status = await self._run("execute", INSERT, *columns)
        return int(str(status).rsplit(" ", 1)[-1])

    async def ping(self) -> bool:
        """True if the database answers now."""
        try:
            await self._run("fetchval", "SELECT 1")
        except Unavailable:
            return False
        return True

    async def devices(self) -> list[asyncpg.Record]:
        return await self._run("fetch", DEVICES)  # type: ignore[return-value]

    async def readings(self, device: str, since: datetime | None, limit: int) -> list:
        return await self._run("fetch", READINGS, device, since or EPOCH, limit)  # type: ignore[return-value]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()

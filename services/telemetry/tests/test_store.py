"""The store in-process against the real PostgreSQL (no broker, no service process): what a
batch stores, what a redelivery does, what the API reads, and a database that is away."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from infra import free_port
from telemetry.reading import Reading
from telemetry.store import Store, Unavailable

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def reading(n: int, seconds: int | None = None, **values: float) -> Reading:
    ts = T0 + timedelta(seconds=n if seconds is None else seconds)
    return Reading(id=f"r{n}", seq=n, ts=ts, values=values or {"temp": float(n)})


def run(store: Store, *calls):
    """The calls' results, awaited in order on one event loop; the pool closed after."""

    async def main():
        try:
            return [await call(store) for call in calls]
        finally:
            await store.close()

    return asyncio.run(main())


def test_a_batch_is_stored_once_and_a_redelivery_is_not_a_second_reading(postgres, database):
    first = [("dev-a", reading(1)), ("dev-a", reading(2)), ("dev-b", reading(1))]
    again = [("dev-a", reading(2, temp=99.0)), ("dev-a", reading(3))]
    store = Store(postgres.dsn(database))
    new, redelivered = run(store, lambda s: s.insert(first), lambda s: s.insert(again))
    assert (new, redelivered) == (3, 1)  # r2 of dev-a again: kept as first stored
    rows = postgres.query(database, 'SELECT device, id, seq, "values" FROM telemetry.readings '
                          "ORDER BY device, id")  # fmt: skip
    assert rows == [
        ["dev-a", "r1", "1", '{"temp": 1.0}'],
        ["dev-a", "r2", "2", '{"temp": 2.0}'],
        ["dev-a", "r3", "3", '{"temp": 3.0}'],
        ["dev-b", "r1", "1", '{"temp": 1.0}'],  # the same id on another device is its own
    ]


def test_devices_and_readings_answer_what_the_api_serves(postgres, database):
    batch = [("dev-a", reading(n, seconds=10 * (n % 3))) for n in range(1, 6)]
    batch.append(("dev-b", reading(7, seconds=100)))
    store = Store(postgres.dsn(database))
    _, devices, all_a, since, limited = run(
        store,
        lambda s: s.insert(batch),
        lambda s: s.devices(),
        lambda s: s.readings("dev-a", None, 100),
        lambda s: s.readings("dev-a", T0 + timedelta(seconds=10), 100),
        lambda s: s.readings("dev-a", None, 2),
    )
    assert [(r["device"], r["readings"], r["last_seen"]) for r in devices] == [
        ("dev-a", 5, T0 + timedelta(seconds=20)),
        ("dev-b", 1, T0 + timedelta(seconds=100)),
    ]
    # ts 0 (r3), 10 (r1, r4), 20 (r2, r5): by time, then by seq
    assert [r["id"] for r in all_a] == ["r3", "r1", "r4", "r2", "r5"]
    assert [r["id"] for r in since] == ["r1", "r4", "r2", "r5"]  # since is inclusive
    assert [r["id"] for r in limited] == ["r3", "r1"]
    assert json.loads(all_a[0]["values"]) == {"temp": 3.0}
    assert all_a[0]["seq"] == 3 and all_a[0]["ts"] == T0
    assert all_a[0]["stored_at"].tzinfo is not None


def test_a_store_made_while_the_database_is_away_works_once_it_is_there(postgres, database):
    name = f"{database}_later"
    store = Store(postgres.dsn(name), timeout=2.0)  # makes no connection yet

    async def absent_then_present(s: Store):
        assert await s.ping() is False
        with pytest.raises(Unavailable, match=r"^InvalidCatalogNameError: .*does not exist"):
            await s.insert([("dev-a", reading(1))])
        postgres.create_database(name)
        return await s.ping(), await s.insert([("dev-a", reading(1))])

    assert run(store, absent_then_present) == [(True, 1)]


def test_a_server_that_does_not_answer_is_unavailable_not_an_error(postgres):
    store = Store(f"postgresql://telemetry@127.0.0.1:{free_port()}/postgres", timeout=2.0)

    async def calls(s: Store):
        with pytest.raises(Unavailable, match=r"^(ConnectionRefusedError|OSError): "):
            await s.devices()
        with pytest.raises(Unavailable):
            await s.readings("dev-a", None, 10)
        return await s.ping()

    assert run(store, calls) == [False]


def test_a_database_that_stalls_is_unavailable_after_the_timeout_not_a_hang(postgres, database):
    """A transaction holding the table (a migration, a stuck backup) stalls every statement
    on it: the store's calls and its schema check give up after its timeout."""
    import asyncpg

    dsn = postgres.dsn(database)

    async def main():
        ready, fresh = Store(dsn, timeout=0.5), Store(dsn, timeout=0.5)
        assert await ready.insert([("dev-a", reading(1))]) == 1
        holder = await asyncpg.connect(dsn)
        lock = holder.transaction()
        await lock.start()
        await holder.execute("LOCK TABLE telemetry.readings IN ACCESS EXCLUSIVE MODE")
        try:
            with pytest.raises(Unavailable, match=r"^TimeoutError"):  # the statement
                await asyncio.wait_for(ready.insert([("dev-a", reading(2))]), 10)
            assert await asyncio.wait_for(ready.ping(), 10) is True  # the server answers
            assert await asyncio.wait_for(fresh.ping(), 10) is False  # the schema check
        finally:
            await lock.rollback()
            await holder.close()
        assert await fresh.ping() is True and await fresh.insert([("dev-a", reading(2))]) == 1
        await ready.close()
        await fresh.close()

    asyncio.run(main())


def test_a_server_that_accepts_and_never_answers_is_unavailable_after_the_timeout():
    import socket

    with socket.socket() as silent:  # takes connections (the kernel's backlog), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        store = Store(f"postgresql://telemetry@127.0.0.1:{port}/postgres", timeout=0.5)

        async def ping_within(seconds: float) -> bool:
            return await asyncio.wait_for(store.ping(), seconds)

        assert asyncio.run(ping_within(10)) is False

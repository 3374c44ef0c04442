"""``pool_stats()``: what the SQL stores tell ``/metrics`` about their connections."""

from __future__ import annotations

import asyncio

from mintage.core.storage import Storage
from mintage.storage.sql.postgres import PostgresStorage
from mintage.storage.sql.sqlite import SQLiteStorage
from mintage.testing.records import client


async def test_pool_stats_of_sql_stores(sql_store: Storage) -> None:
    if isinstance(sql_store, PostgresStorage):
        idle = sql_store.pool_stats()
        assert idle["pool_max"] == sql_store.max_size
        assert idle["pool_size"] >= 1 and idle["pool_in_use"] == 0
        async with sql_store._p().acquire():
            busy = sql_store.pool_stats()
        assert busy["pool_in_use"] == 1
        assert busy["pool_idle"] == busy["pool_size"] - 1
    else:
        assert isinstance(sql_store, SQLiteStorage)
        assert sql_store.pool_stats() == {"pending_writes": 0}
        write = asyncio.ensure_future(sql_store.save_client(client()))
        await asyncio.sleep(0)  # the write queues; its group commit runs on the next turn
        assert sql_store.pool_stats() == {"pending_writes": 1}
        await write
        assert sql_store.pool_stats() == {"pending_writes": 0}


async def test_closed_postgres_store_reports_nothing() -> None:
    assert PostgresStorage("postgresql://nobody@127.0.0.1:1/none").pool_stats() == {}

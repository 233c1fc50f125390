"""The short-lived cache behind authentication: entries expire, size is bounded, 0 disables it."""

from __future__ import annotations

from insightd.auth.cache import TTLCache


def test_entries_expire_after_ttl() -> None:
    now = [0.0]
    cache: TTLCache[str, int] = TTLCache(5, clock=lambda: now[0])
    cache.put("k", 1)
    assert cache.get("k") == 1
    now[0] = 4.9
    assert cache.get("k") == 1
    now[0] = 5.0
    assert cache.get("k") is None


def test_oldest_entries_are_dropped_beyond_the_bound() -> None:
    cache: TTLCache[int, int] = TTLCache(60, max_entries=3)
    for i in range(5):
        cache.put(i, i)
    assert [cache.get(i) for i in range(5)] == [None, None, 2, 3, 4]


def test_zero_ttl_disables_caching() -> None:
    cache: TTLCache[str, int] = TTLCache(0)
    cache.put("k", 1)
    assert cache.get("k") is None


def test_concurrent_misses_share_one_load() -> None:
    import asyncio
    import threading

    calls = []
    gate = threading.Event()

    def compute() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    async def main() -> list[int]:
        cache: TTLCache[str, int] = TTLCache(60)
        tasks = [asyncio.create_task(cache.load("k", compute)) for _ in range(10)]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert cache.get("k") == 42
        return list(results)

    assert asyncio.run(main()) == [42] * 10
    assert len(calls) == 1


def test_a_failed_load_is_not_cached() -> None:
    import asyncio

    import pytest

    cache: TTLCache[str, int] = TTLCache(60)

    def fail() -> int:
        raise ValueError("no such key")

    with pytest.raises(ValueError):
        asyncio.run(cache.load("k", fail))
    assert asyncio.run(cache.load("k", lambda: 7)) == 7

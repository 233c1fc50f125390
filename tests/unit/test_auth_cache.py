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

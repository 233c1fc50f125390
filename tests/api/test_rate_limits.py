"""Per-key rate limits on insight endpoints: 429 throttled_error with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from insightd.auth.ratelimit import MemoryRateLimiter
from insightd.settings import parse_rate_limits
from tests.support import ServerThread, make_settings, new_tenant


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    settings = make_settings(tmp_path_factory.mktemp("limited"), None, rate_limits="5/minute,100/hour")
    with ServerThread(settings) as server:
        yield server


def test_sixth_request_in_a_minute_is_throttled(limited_server: ServerThread) -> None:
    tenant = new_tenant(limited_server)
    api = tenant.client()
    statuses = [api.get(f"{tenant.base}/insights/").status_code for _ in range(5)]
    assert statuses == [200] * 5
    throttled = api.get(f"{tenant.base}/insights/")
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["type"] == "throttled_error" and body["code"] == "throttled"
    assert body["detail"].startswith("Request was throttled. Expected available in ")
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    # Limits are per key: another key of the same user is not throttled.
    assert tenant.client(tenant.new_key()).get(f"{tenant.base}/insights/").status_code == 200
    tenant.close()


def test_unauthenticated_requests_do_not_spend_a_keys_budget(limited_server: ServerThread) -> None:
    tenant = new_tenant(limited_server)
    anonymous = tenant.client(key="phx_invalid")
    for _ in range(8):
        assert anonymous.get(f"{tenant.base}/insights/").status_code == 401
    assert tenant.client().get(f"{tenant.base}/insights/").status_code == 200
    tenant.close()


def test_sliding_window_frees_up_after_the_period() -> None:
    now = [1000.0]
    limiter = MemoryRateLimiter(parse_rate_limits("2/second,3/minute"), clock=lambda: now[0])
    assert limiter.hit("k") is None and limiter.hit("k") is None
    wait = limiter.hit("k")
    assert wait is not None and 0 < wait <= 1
    now[0] += 1.01
    assert limiter.hit("k") is None  # third in the minute
    now[0] += 1.01
    minute_wait = limiter.hit("k")
    assert minute_wait is not None and minute_wait > 50
    assert limiter.hit("other") is None


def test_off_disables_limits(tmp_path: Path) -> None:
    assert parse_rate_limits("off") == []
    assert MemoryRateLimiter([]).hit("k") is None

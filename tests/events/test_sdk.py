"""The real posthog-python SDK from PyPI, pointed at insightd, with and without gzip."""

from __future__ import annotations

import json

import pytest
from posthog import Posthog

from tests.events.conftest import Store
from tests.support import Tenant


@pytest.mark.parametrize("gzip", [False, True])
def test_posthog_python_capture_identify_alias_flush(
    tenant: Tenant, token: str, store: Store, gzip: bool
) -> None:
    errors: list[object] = []
    client = Posthog(
        token,
        host=tenant.server.base_url,
        gzip=gzip,
        on_error=lambda e, _batch: errors.append(e),
        max_retries=0,
    )
    try:
        client.capture(
            "$pageview", distinct_id="anon-42", properties={"$current_url": "https://app.example/pricing"}
        )
        client.capture(
            "$identify",
            distinct_id="user-42",
            properties={"$anon_distinct_id": "anon-42", "$set": {"email": "u42@example.com"}},
        )
        client.set(distinct_id="user-42", properties={"plan": "pro"})
        client.alias(previous_id="user-42", distinct_id="backend-42")
        client.capture("purchase", distinct_id="backend-42", properties={"amount": 30})
        client.flush()
    finally:
        client.shutdown()
    assert errors == []
    events = store.events()
    assert sorted(e["event"] for e in events) == sorted(
        ["$pageview", "$identify", "$set", "$create_alias", "purchase"]
    )
    assert len({e["person_id"] for e in events if e["event"] != "$pageview"}) == 1
    purchase = next(e for e in events if e["event"] == "purchase")
    assert json.loads(purchase["properties"])["$lib"] == "posthog-python"
    person_props = json.loads(purchase["person_properties"])
    assert person_props["email"] == "u42@example.com" and person_props["plan"] == "pro"
    assert store.stats()["persons"] == 1

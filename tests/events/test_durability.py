"""An event acknowledged with 200 survives the server being SIGKILLed right after the ack."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.events.processes import ServerProcess, project_token


@pytest.mark.timeout(180)
def test_acked_events_survive_sigkill(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = ServerProcess(data_dir).start()
    acked: list[str] = []
    try:
        token = project_token(data_dir)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            for round_ in range(30):
                batch = [
                    {"event": "$pageview", "distinct_id": f"user-{i % 37}", "uuid": str(uuid.uuid4()),
                     "properties": {"round": round_, "$browser": "Chrome"}}
                    for i in range(100)
                ]  # fmt: skip
                response = client.post("/batch/", json={"api_key": token, "batch": batch})
                assert response.status_code == 200
                acked.extend(e["uuid"] for e in batch)
        server.kill()  # immediately after the last acknowledgement: no graceful flush
    finally:
        server.stop()

    restarted = ServerProcess(data_dir).start()
    try:
        with restarted.admin() as admin:
            stats = admin.post("/_admin/events/stats", json={"project_id": 1, "uuids": acked}).json()
            assert stats["found"] == len(acked) == 3000
            assert stats["events"] == stats["rows"] == 3000  # replayed once, nothing stored twice
            assert stats["persons"] == 37
    finally:
        restarted.stop()

"""A data directory from an earlier version is brought up to the current event-store DDL on open.

chDB opens one data directory per process, so the old directory is built and upgraded in a child
process (the test process already owns the shared test engine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import json, sys
from pathlib import Path
from insightd.engine.chdb import ChDBEngine
from insightd.events import schema

engine = ChDBEngine(Path(sys.argv[1]))
# The events table as versions before the Nullable materialised columns created it.
old = schema.EVENTS_DDL
for column in schema.MATERIALIZED_PROPERTIES.values():
    start = old.index(f"    {column} ")
    end = old.index("\n", start)
    key = next(k for k, c in schema.MATERIALIZED_PROPERTIES.items() if c == column)
    line = f"    {column} String MATERIALIZED JSONExtractString(properties, '{key}'),"
    old = old[:start] + line + old[end:]
old = old.replace("'),\n) ENGINE", "')\n) ENGINE")  # no comma after the last column
engine.execute(old)
engine.execute(
    "INSERT INTO events (uuid, team_id, event, distinct_id, person_id, properties, timestamp) VALUES "
    "(generateUUIDv4(), 1, 'e', 'a', generateUUIDv4(), "
    "'{\"$browser\": \"Chrome\", \"$os\": 7, \"utm_source\": 5}', now()), "
    "(generateUUIDv4(), 1, 'e', 'b', generateUUIDv4(), '{\"$browser\": null}', now()), "
    "(generateUUIDv4(), 1, 'e', 'c', generateUUIDv4(), '{}', now())"
)
# As if an upgrade had stopped half-way: one column redefined, its stored values not yet recomputed.
engine.execute(
    "ALTER TABLE events MODIFY COLUMN mat_utm_source Nullable(String) "
    "MATERIALIZED JSONExtract(properties, 'utm_source', 'Nullable(String)')"
)
before = engine.execute("SELECT type FROM system.columns WHERE table = 'events' AND name = 'mat_os'").rows
schema.create(engine)
schema.create(engine)  # a second open finds nothing to do
after = engine.execute("SELECT type FROM system.columns WHERE table = 'events' AND name = 'mat_os'").rows
rows = engine.execute(
    "SELECT distinct_id, mat_browser, mat_os, mat_utm_source FROM events ORDER BY distinct_id"
).rows
print(json.dumps({"before": before, "after": after, "rows": rows}))
engine.close()
"""


def test_string_materialised_columns_are_redefined_and_recomputed(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "events")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["before"] == [["String"]]
    assert out["after"] == [["Nullable(String)"]]
    # The number the old column lost ('' from JSONExtractString) is there; null and missing are NULL.
    assert out["rows"] == [["a", "Chrome", "7", "5"], ["b", None, None, None], ["c", None, None, None]]

"""A serving process's startup objects leave the garbage collector's scans."""

from __future__ import annotations

import json
import subprocess
import sys

# In a process of its own: freezing is for the rest of a process's life.
PROBE = """
import gc, json
from jobs.heap import freeze_startup_heap

startup = [{"n": i, "self": None} for i in range(200_000)]
for item in startup:
    item["self"] = item  # cycles, as a loaded app's objects have
freeze_startup_heap()
later = {"self": None}
later["self"] = later
print(json.dumps({
    "frozen": gc.get_freeze_count(),
    "startup_tracked": any(o is startup[0] for o in gc.get_objects()),
    "later_tracked": any(o is later for o in gc.get_objects()),
}))
"""


def test_startup_objects_are_frozen_and_later_ones_still_tracked():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    figures = json.loads(out.stdout.splitlines()[-1])
    assert figures["frozen"] >= 200_000
    # What the collector walks now: objects made after the freeze, not the startup ones.
    assert not figures["startup_tracked"]
    assert figures["later_tracked"]

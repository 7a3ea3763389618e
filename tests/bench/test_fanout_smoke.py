"""Smoke test of the fan-out benchmark: the floor and a 1-subscriber MediaRelay case, quick.

Checks the JSON lines are well formed and the figures positive, not the figures themselves
(the machine running CI is shared and noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIELDS = (
    "mode",
    "subscribers",
    "us_per_packet",
    "cpu_percent_per_subscriber",
    "received_ratio",
    "latency_p50_ms",
    "latency_p99_ms",
)


@pytest.mark.timeout(60)
def test_fanout_quick_floor_and_mediarelay() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "fanout.py"),
            "--json",
            "--quick",
            "--modes",
            "floor,mediarelay",
            "--relay-subscribers",
            "1",
            "--window",
            "2",
            "--floor-seconds",
            "1",
            "--floor-profiles",
            "SRTP_AEAD_AES_256_GCM",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=55,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(text) for text in proc.stdout.splitlines() if text.strip()]
    cases = [x for x in lines if "mode" in x]
    summaries = [x for x in lines if "summary" in x]
    assert len(summaries) == 1 and lines[-1] is summaries[0]
    assert {x["mode"] for x in cases} == {"floor", "mediarelay"}
    for case in cases:
        assert "error" not in case, case
        assert tuple(case)[: len(FIELDS)] == FIELDS
        assert case["us_per_packet"] > 0
        assert case["cpu_percent_per_subscriber"] > 0
    relay = next(x for x in cases if x["mode"] == "mediarelay")
    assert relay["subscribers"] == 1
    assert relay["received_ratio"] > 0.5
    assert relay["latency_p50_ms"] is None and relay["latency_p99_ms"] is None
    assert relay["details"]["subscriber_fps_mean"] > 0
    floor = [x for x in cases if x["mode"] == "floor"]
    assert all(x["received_ratio"] is None for x in floor)
    assert summaries[0]["summary"]["floor_us_per_packet"] > 0

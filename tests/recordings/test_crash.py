"""A recorder killed with SIGKILL leaves files that play up to at most 2 s before the kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from recordings.manifest import read_manifest
from tests.recordings.helpers import decode_all

ROOT = Path(__file__).resolve().parents[2]
KILL_AFTER = 3.0  # seconds of media delivered before the kill


def test_a_sigkilled_recorder_leaves_files_that_decode_up_to_two_seconds_before_the_kill(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.recordings.kill_writer", str(tmp_path), "4.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    fed = 0.0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("fed "):
                fed = float(line.split()[1])
                if fed >= KILL_AFTER:
                    break
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert fed >= KILL_AFTER

    manifest = read_manifest(tmp_path)
    assert manifest.state == "recording"
    assert {s.kind for s in manifest.segments} == {"audio", "video"}
    for segment in manifest.segments:
        decoded = decode_all(tmp_path / segment.file)
        assert segment.start is not None
        assert decoded.first + segment.start < 0.2
        assert decoded.last + segment.start >= fed - 2.0, (segment.kind, decoded, fed)

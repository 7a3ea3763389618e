"""A recorder killed with SIGKILL leaves files that play up to at most 2 s before the kill.

Killed alone, the process leaves its worker process running until the end of its input, which
then closes every file. Killed with its worker (the whole process group, as by an OOM killer or a
power cut), the files stay as they were: Matroska clusters are written as they close.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from recordings.manifest import read_manifest
from tests.recordings.helpers import decode_all

ROOT = Path(__file__).resolve().parents[2]
KILL_AFTER = 3.0  # seconds of media delivered before the kill


def _wait_until_closed(directory: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        segments = read_manifest(directory).segments
        if segments and all(s.closed for s in segments):
            return
        time.sleep(0.1)
    raise AssertionError(f"the worker did not close the files: {read_manifest(directory)}")


@pytest.mark.parametrize("with_worker", [False, True], ids=["alone", "with-its-worker"])
def test_a_sigkilled_recorder_leaves_files_that_decode_up_to_two_seconds_before_the_kill(
    tmp_path: Path, with_worker: bool
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.recordings.kill_writer", str(tmp_path), "4.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    fed = 0.0
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("fed "):
                fed = float(line.split()[1])
                if fed >= KILL_AFTER:
                    break
        if with_worker:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert fed >= KILL_AFTER
    if not with_worker:
        _wait_until_closed(tmp_path)

    manifest = read_manifest(tmp_path)
    assert manifest.state == "recording"
    assert {s.kind for s in manifest.segments} == {"audio", "video"}
    for segment in manifest.segments:
        decoded = decode_all(tmp_path / segment.file)
        assert segment.start is not None
        assert decoded.first + segment.start < 0.2
        assert decoded.last + segment.start >= fed - 2.0, (segment.kind, decoded, fed)

"""The ``record-overhead`` case of bench/recording.py: what recording adds to forwarding.

One ``forward`` room of ``bench/fanout.py`` (its ``Room``: the hub's SFU in a server process, a
publisher, N counting subscribers) is started once and grown to N subscribers. After a warm-up
(during which the recorder is created, started and attached once, so its imports, thread and first
files are paid for before measuring), the case measures ``pairs`` pairs of windows in ABBA order
(plain, recorded, recorded, plain, plain, recorded, ...), so that a slow drift of the machine
(load, the publisher's rate) weighs on both kinds alike. Before each window the recorder is
attached to the room or detached (the server's ``recording`` RPC: the recorder stays started and
idle while detached; attaching opens new segments and requests keyframes, detaching closes the
segments).

Every window starts at the same point of the publisher's looped 10 s clip: the publisher restarts
its clip at each keyframe request (bench/fanout_media.py), and attaching the recorder sends one or
two (the SFU sends at most one a second), so otherwise the recorded windows would hold other parts
of the clip (other packet rates: the clip's keyframe, when it loops, adds packets) than the plain
ones. So ``KEYFRAME_AFTER_S`` after the toggle the case asks for a keyframe itself (the server's
``keyframe`` RPC), for either kind, and the window's first snapshot comes ``KEYFRAME_SETTLE_S``
after that. ``keyframe_requests`` in each window's row (requests the publisher received within
the window) should be 0.

Each window gives ``us_per_packet`` from ``Room.figures``: the server process's CPU (getrusage
RUSAGE_SELF, all its threads) / (packets the server received x N).

Figures of the JSON line:

- ``overhead_ratio``: forwarding process only. The sum of the recorded windows' ``us_per_packet``
  / the sum of the plain windows' (the ratio of the means). A recorder worker that runs as a
  *thread* of the server is inside this figure; one that runs in a *child process* is not.
- ``overhead_ratio_with_worker``: the same, with the recorder worker's CPU added to each recorded
  window when the worker runs outside the server process (the server has live child processes):
  the delta of ``recorder.stats.worker_cpu_seconds`` between the window's two snapshots, per
  forwarded packet. Summed over all recorded windows, so a counter updated only now and then
  (per batch) evens out. When the worker is a thread its CPU is already in the process CPU and
  this equals ``overhead_ratio`` (``worker_in_server_process`` says which case applied).
- ``pair_ratio_median`` / ``_min`` / ``_max``: recorded / plain within each pair (forwarding
  process only); ``pair_ratio_stderr``: their standard deviation / sqrt(pairs), the standard
  error of their mean, to judge how far ``overhead_ratio`` can be trusted.
- ``worker``: the recorder worker over all recorded windows: CPU seconds, packets written, CPU per
  written packet (us), and that CPU as a % of the server process's CPU in the same windows; and
  its CPU while idle (detached, still started) over the plain windows (``idle_*``). With a worker
  thread that idle CPU is part of the plain windows' figure, which a server without any recorder
  would not pay: it lowers ``overhead_ratio`` by about that share.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.cpu import load_average
from bench.fanout import Room, parse_args, saturated

KEYFRAME_AFTER_S = 2.0  # after a toggle: the recorder's own keyframe requests are sent by then
KEYFRAME_SETTLE_S = 1.0  # after that keyframe request, before the window's first snapshot
WARMUP_S = 3.0  # of each kind before the first window
MAX_SECONDS = 420.0  # the whole case, set-up included
TARGET_MAX = 1.05


def window_order(pairs: int) -> list[tuple[int, bool]]:
    """(pair, recorded) for every window, in ABBA order: plain, recorded, recorded, plain, ..."""
    order: list[tuple[int, bool]] = []
    for pair in range(pairs):
        kinds = (False, True) if pair % 2 == 0 else (True, False)
        order += [(pair, recorded) for recorded in kinds]
    return order


async def _set_recording(room: Room, on: bool, directory: Path) -> None:
    assert room.server is not None
    await room.server.request("recording", on=on, directory=str(directory))


async def _prepare_window(room: Room, recorded: bool, directory: Path) -> None:
    """Attach or detach the recorder, then restart the publisher's clip (a keyframe request)
    once the recorder's own requests are over, and let the keyframe pass."""
    assert room.server is not None
    await _set_recording(room, recorded, directory)
    await asyncio.sleep(KEYFRAME_AFTER_S)
    await room.server.request("keyframe")
    await asyncio.sleep(KEYFRAME_SETTLE_S)


def _worker_counters(server_stats: dict[str, Any]) -> tuple[float, int]:
    """(worker CPU seconds, packets written) from the server's ``stats`` answer."""
    recorder = server_stats.get("recorder") or {}
    return float(recorder.get("worker_cpu_seconds", 0.0)), int(recorder.get("written_packets", 0))


async def _window(
    room: Room, pair: int, recorded: bool, seconds: float, directory: Path
) -> dict[str, Any]:
    """Prepare the window (``_prepare_window``), then measure it."""
    n = room.subscribers
    await _prepare_window(room, recorded, directory)
    a = await room.snapshot(start=True)
    await asyncio.sleep(seconds)
    b = await room.snapshot(start=False)
    result = room.figures(n, a, b, {})
    srv_a, srv_b = a["server"], b["server"]
    copies = (srv_b["packets_in"] - srv_a["packets_in"]) * n  # forwarded packets
    cpu_a, written_a = _worker_counters(srv_a)
    cpu_b, written_b = _worker_counters(srv_b)
    details = result["details"]
    row: dict[str, Any] = {
        "pair": pair,
        "kind": "recorded" if recorded else "plain",
        "us_per_packet": result["us_per_packet"],
        "server_cpu_s": round(srv_b["cpu"] - srv_a["cpu"], 4),
        "server_cpu_percent": details["server_cpu_percent"],
        "packets_in_per_s": details["server_packets_in_per_s"],
        "keyframe_requests": details["keyframe_requests"],
        "worker_cpu_s": round(cpu_b - cpu_a, 4),
        "worker_written": written_b - written_a,
        "worker_us_per_packet": round((cpu_b - cpu_a) / copies * 1e6, 3) if copies else None,
        "child_processes": srv_b.get("child_processes", 0),
        "load": details["load"][0],
    }
    reason = saturated(result)
    if reason:
        row["saturated"] = reason
    return row


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator > 0 else None


def _stderr(values: list[float]) -> float | None:
    """Standard error of the mean of ``values``: showing a 5 % target needs it well under 0.05."""
    if len(values) < 2:
        return None
    return round(statistics.stdev(values) / len(values) ** 0.5, 4)


def _pair_ratios(rows: list[dict[str, Any]]) -> list[float]:
    """recorded / plain us_per_packet within each pair, in pair order."""
    by_pair: dict[int, dict[str, float]] = {}
    for row in rows:
        by_pair.setdefault(row["pair"], {})[row["kind"]] = row["us_per_packet"]
    return [round(p["recorded"] / p["plain"], 4) for _, p in sorted(by_pair.items())]


def _percent(part: float, whole: float) -> float | None:
    return round(part / whole * 100, 2) if whole > 0 else None


def _worker_summary(plain: list[dict[str, Any]], recorded: list[dict[str, Any]]) -> dict[str, Any]:
    """The recorder worker's CPU over all recorded windows (totals: robust to a lumpy counter),
    and while it idles (detached) over all plain windows."""
    cpu = sum(r["worker_cpu_s"] for r in recorded)
    written = sum(r["worker_written"] for r in recorded)
    idle = sum(r["worker_cpu_s"] for r in plain)
    return {
        "cpu_s": round(cpu, 4),
        "written_packets": written,
        "us_per_written_packet": round(cpu / written * 1e6, 2) if written else None,
        "percent_of_server_cpu": _percent(cpu, sum(r["server_cpu_s"] for r in recorded)),
        "idle_cpu_s": round(idle, 4),
        "idle_percent_of_server_cpu": _percent(idle, sum(r["server_cpu_s"] for r in plain)),
    }


def summarize(rows: list[dict[str, Any]], worker_in_process: bool) -> dict[str, Any]:
    """The case's figures from its windows (see the module docstring)."""
    plain = [r for r in rows if r["kind"] == "plain"]
    recorded = [r for r in rows if r["kind"] == "recorded"]
    plain_us = sum(r["us_per_packet"] for r in plain)
    recorded_us = sum(r["us_per_packet"] for r in recorded)
    # the worker's CPU is added only when it is not already in the server process's CPU
    worker_us = 0.0 if worker_in_process else sum(r["worker_us_per_packet"] or 0 for r in recorded)
    pairs = _pair_ratios(rows)
    return {
        "overhead_ratio": _ratio(recorded_us, plain_us),
        "overhead_ratio_with_worker": _ratio(recorded_us + worker_us, plain_us),
        "pair_ratio_median": round(statistics.median(pairs), 4),
        "pair_ratio_min": min(pairs),
        "pair_ratio_max": max(pairs),
        "pair_ratio_stderr": _stderr(pairs),
        "pair_ratios": pairs,
        "us_per_packet_plain_mean": round(plain_us / len(plain), 3),
        "us_per_packet_recorded_mean": round(recorded_us / len(recorded), 3),
        "worker_in_server_process": worker_in_process,
        "worker": _worker_summary(plain, recorded),
    }


async def _warm_up(room: Room, directory: Path) -> None:
    """Let the room settle, then record once and stop, so that creating the recorder (imports,
    its worker, the first files) happens before the first window."""
    await room.wait_flowing(room.args.flow_timeout)
    await room.settle(10.0)
    await _set_recording(room, True, directory)
    await asyncio.sleep(WARMUP_S)
    await _set_recording(room, False, directory)
    await asyncio.sleep(WARMUP_S)


async def _measure(
    room: Room, subscribers: int, pairs: int, window: float, directory: Path
) -> dict[str, Any]:
    await room.start()
    assert room.server is not None
    await room.grow(subscribers)
    await _warm_up(room, directory)
    rows = [
        await _window(room, pair, recorded, window, directory)
        for pair, recorded in window_order(pairs)
    ]
    await _set_recording(room, False, directory)
    final = await room.server.request("stats")
    # a worker in a child process shows as live children of the server while recording
    in_process = all(r["child_processes"] == 0 for r in rows if r["kind"] == "recorded")
    return {"rows": rows, "summary": summarize(rows, in_process), "recorder": final["recorder"]}


async def record_overhead(subscribers: int, pairs: int, window: float) -> dict[str, Any]:
    """Run the case (about 2.5 minutes with 8 pairs of 5 s windows); returns its JSON line."""
    os.environ.pop("FANOUT_RECORD_DIR", None)  # the server must start without a recorder
    args = parse_args(["--modes", "forward", "--subscribers", str(subscribers)])
    logdir = Path(tempfile.mkdtemp(prefix="lecturehub-record-overhead-logs-"))
    room = Room("forward", args, logdir, "forward-server", "hub")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="lecturehub-record-overhead-") as tmp:
        try:
            async with asyncio.timeout(MAX_SECONDS):
                directory = Path(tmp) / "recording"
                measured = await _measure(room, subscribers, pairs, window, directory)
        except BaseException:
            print(f"record-overhead: child logs kept in {logdir}", file=sys.stderr, flush=True)
            raise
        finally:
            await room.close()  # stops the recorder before its directory goes
    shutil.rmtree(logdir, ignore_errors=True)
    return {
        "case": "record-overhead",
        **measured["summary"],
        "subscribers": subscribers,
        "pairs": pairs,
        "window_s": window,
        "windows": measured["rows"],
        "recorder": measured["recorder"],
        "load_average": {"before": load_before, "after": load_average()},
        "target_max": TARGET_MAX,
    }

"""The record-overhead case's arithmetic (bench/record_overhead.py), without starting a room."""

from __future__ import annotations

from typing import Any

import pytest

from bench.record_overhead import summarize, window_order


def _row(pair: int, kind: str, us: float, worker_cpu_s: float, worker_us: float) -> dict[str, Any]:
    return {
        "pair": pair,
        "kind": kind,
        "us_per_packet": us,
        "server_cpu_s": us / 10,
        "worker_cpu_s": worker_cpu_s,
        "worker_written": 800 if kind == "recorded" else 0,
        "worker_us_per_packet": worker_us,
    }


def test_windows_alternate_abba() -> None:
    kinds = ["recorded" if recorded else "plain" for _, recorded in window_order(3)]
    assert kinds == ["plain", "recorded", "recorded", "plain", "plain", "recorded"]
    assert [pair for pair, _ in window_order(2)] == [0, 0, 1, 1]


@pytest.mark.parametrize(("in_process", "with_worker"), [(True, 1.1), (False, 1.2)])
def test_ratios_are_of_the_means_and_count_the_worker_once(
    in_process: bool, with_worker: float
) -> None:
    rows = [
        _row(0, "plain", 5.0, 0.001, 0.02),
        _row(0, "recorded", 6.0, 0.010, 0.5),
        _row(1, "recorded", 5.0, 0.010, 0.5),
        _row(1, "plain", 5.0, 0.001, 0.02),
    ]
    out = summarize(rows, worker_in_process=in_process)
    assert out["overhead_ratio"] == pytest.approx(1.1)
    # a worker thread is already in the process CPU: added only when it runs in its own process
    assert out["overhead_ratio_with_worker"] == pytest.approx(with_worker)
    assert out["pair_ratios"] == [1.2, 1.0]
    assert out["pair_ratio_median"] == pytest.approx(1.1)
    assert out["pair_ratio_stderr"] == pytest.approx(0.1)
    assert out["worker"]["cpu_s"] == pytest.approx(0.02)
    assert out["worker"]["us_per_written_packet"] == pytest.approx(12.5)
    assert out["worker"]["idle_cpu_s"] == pytest.approx(0.002)

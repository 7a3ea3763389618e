"""Cheap forwarding counters and a sampled latency histogram."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Log-spaced buckets: 8 per octave from 1 us up to about 1 s.
_BUCKETS_PER_OCTAVE = 8
_BUCKET_COUNT = 20 * _BUCKETS_PER_OCTAVE


class LatencyHistogram:
    """Counts latencies (microseconds) in log-spaced buckets; percentiles within ~9%."""

    __slots__ = ("counts", "samples")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKET_COUNT
        self.samples = 0

    def add(self, micros: float) -> None:
        index = 0 if micros <= 1.0 else int(math.log2(micros) * _BUCKETS_PER_OCTAVE)
        self.counts[min(index, _BUCKET_COUNT - 1)] += 1
        self.samples += 1

    def merge(self, other: LatencyHistogram) -> None:
        for i, count in enumerate(other.counts):
            self.counts[i] += count
        self.samples += other.samples

    def percentile(self, fraction: float) -> float | None:
        """The upper edge of the bucket holding that fraction of samples."""
        if not self.samples:
            return None
        rank = fraction * self.samples
        seen = 0
        for i, count in enumerate(self.counts):
            seen += count
            if seen >= rank and count:
                return float(2.0 ** ((i + 1) / _BUCKETS_PER_OCTAVE))
        return None


@dataclass
class ForwardingStats:
    """Counters of one publication, or summed over a room or a registry."""

    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    keyframe_requests_sent: int = 0
    keyframe_requests_received: int = 0
    nacks_received: int = 0
    nacks_answered: int = 0
    nacks_relayed: int = 0
    latency_samples: int = 0
    latency_p50_us: float | None = None
    latency_p99_us: float | None = None


class Counters:
    """The mutable counters a Publication keeps on its packet path."""

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "histogram",
        "keyframe_requests_received",
        "keyframe_requests_sent",
        "nacks_answered",
        "nacks_received",
        "nacks_relayed",
        "packets_in",
        "packets_out",
    )

    def __init__(self) -> None:
        self.packets_in = 0
        self.bytes_in = 0
        self.packets_out = 0
        self.bytes_out = 0
        self.keyframe_requests_sent = 0
        self.keyframe_requests_received = 0
        self.nacks_received = 0
        self.nacks_answered = 0
        self.nacks_relayed = 0
        self.histogram = LatencyHistogram()


def summarise(counters: list[Counters]) -> ForwardingStats:
    """Sum counters and compute latency percentiles over all of them."""
    stats = ForwardingStats()
    histogram = LatencyHistogram()
    for c in counters:
        stats.packets_in += c.packets_in
        stats.bytes_in += c.bytes_in
        stats.packets_out += c.packets_out
        stats.bytes_out += c.bytes_out
        stats.keyframe_requests_sent += c.keyframe_requests_sent
        stats.keyframe_requests_received += c.keyframe_requests_received
        stats.nacks_received += c.nacks_received
        stats.nacks_answered += c.nacks_answered
        stats.nacks_relayed += c.nacks_relayed
        histogram.merge(c.histogram)
    stats.latency_samples = histogram.samples
    stats.latency_p50_us = histogram.percentile(0.5)
    stats.latency_p99_us = histogram.percentile(0.99)
    return stats

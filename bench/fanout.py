#!/usr/bin/env python
"""Fan-out benchmark of the live rooms: what does one more subscriber cost the server?

One publisher (640x480 VP8 at 30 fps, about 1 Mbit/s, plus Opus; pre-encoded, looped) and N
subscribers in other processes that only count packets. Three modes in the same run:

* ``forward``: the hub's forwarding SFU (``media/``: ``RoomRegistry`` / ``Room`` /
  ``SignallingSession``) in a server process, N = 1, 10, 50, 100, 200;
* ``mediarelay``: aiortc's ``MediaRelay`` (decode once, encode per subscriber), the baseline,
  N = 1, 2, 4, 8 or until it saturates;
* ``floor``: one SRTP protect of a 1200-byte packet and one ``sendto`` on loopback per packet.

Figures are CPU time of the server process (``getrusage``, all threads) over a steady-state
window after a warm-up, not wall clock::

    python bench/fanout.py --json            # the full run, one JSON object per line
    python bench/fanout.py --json --quick    # a short run
    python bench/fanout.py --modes forward --sfu-path /tmp/sfu-snapshot

See the "Fan-out" section of docs/benchmarks.md for what each field means.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.cpu import drops_between, load_average, machine_busy_cores, machine_sample, udp_drops
from bench.fanout_proc import Child, ChildError

FLOOR_PROFILES = ["SRTP_AES128_CM_SHA1_80", "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM"]
PACKETS_PER_SECOND = 170  # about 120 video (1 Mbit/s, 1300-byte packets) + 50 audio
EXPECTED_FPS = 30

TARGETS = {
    "us_per_packet_max": 15.0,
    "ratio_to_floor_max": 2.5,
    "mediarelay_per_subscriber_ratio_min": 100.0,
    "latency_p50_ms_max": 2.0,
    "latency_p99_ms_max": 10.0,
}


def line(mode: str, subscribers: int, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mode": mode,
        "subscribers": subscribers,
        "us_per_packet": None,
        "cpu_percent_per_subscriber": None,
        "received_ratio": None,
        "latency_p50_ms": None,
        "latency_p99_ms": None,
    }
    out.update(fields)
    return out


def r(value: float | None, digits: int = 3) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, digits)


class Output:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.lines: list[dict[str, Any]] = []

    def emit(self, obj: dict[str, Any]) -> None:
        self.lines.append(obj)
        if self.as_json:
            print(json.dumps(obj), flush=True)
        elif "summary" in obj:
            print("summary:", json.dumps(obj["summary"], indent=2), flush=True)
        elif "error" in obj:
            print(f"{obj.get('mode')}: ERROR {obj['error']}", flush=True)
        else:
            fields = ("us_per_packet", "cpu_percent_per_subscriber", "received_ratio")
            figures = "  ".join(f"{k}={obj.get(k)}" for k in fields)
            latency = f"p50={obj.get('latency_p50_ms')} p99={obj.get('latency_p99_ms')} ms"
            print(f"{obj['mode']:>10} N={obj['subscribers']:<4} {figures}  {latency}", flush=True)

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


# -- floor -------------------------------------------------------------------------------------


async def run_floor(args: argparse.Namespace, logdir: Path, out: Output) -> None:
    drainer = await Child.start("floor-drainer", ["drainer"], logdir)
    floor = await Child.start("floor", ["floor"], logdir)
    try:
        ports = (await drainer.request("open", count=args.floor_sessions))["ports"]
        profiles = args.floor_profiles
        for profile in profiles:
            await floor.request("setup", profile=profile, ports=ports)
            before = await drainer.request("stats")
            res = await floor.request(
                "paced",
                timeout=args.floor_seconds + 60,
                profile=profile,
                seconds=args.floor_seconds,
                bursts_per_second=PACKETS_PER_SECOND,
            )
            await asyncio.sleep(0.3)
            after = await drainer.request("stats")
            parts = await floor.request(
                "parts", timeout=120, profile=profile, n=5_000 if args.quick else 20_000
            )
            received = after["received"] - before["received"]
            out.emit(
                line(
                    "floor",
                    args.floor_sessions,
                    us_per_packet=r(res["us_per_packet"]),
                    cpu_percent_per_subscriber=r(res["cpu_percent"] / args.floor_sessions, 4),
                    received_ratio=None,
                    details={
                        "srtp_profile": profile,
                        "protect_us": r(parts["protect_us"]),
                        "sendto_us": r(parts["sendto_us"]),
                        "packets": res["packets"],
                        "packet_bytes": 1200,
                        "protected_bytes": parts["protected_size"],
                        "packets_per_s_per_subscriber": PACKETS_PER_SECOND,
                        "drainer_received_in_window": received,
                        "window_s": r(res["wall_seconds"], 2),
                        "load": load_average(),
                    },
                )
            )
    finally:
        await asyncio.gather(floor.close(), drainer.close())


# -- rooms: a server, a publisher, counting subscribers ----------------------------------------


def _percentile_from_histogram(buckets: list[tuple[float, int]], q: float) -> float | None:
    """``buckets``: (upper bound in ms, count) sorted by bound; returns the bound at quantile q."""
    total = sum(c for _, c in buckets)
    if total <= 0:
        return None
    rank = q * total
    seen = 0
    for bound, count in buckets:
        seen += count
        if seen >= rank:
            return bound
    return buckets[-1][0]


class Room:
    """One server under test with its publisher and subscriber host processes."""

    def __init__(
        self, mode: str, args: argparse.Namespace, logdir: Path, server_role: str, dialect: str
    ) -> None:
        self.mode = mode
        self.args = args
        self.logdir = logdir
        self.server_role = server_role
        self.dialect = dialect
        self.server: Child | None = None
        self.publisher: Child | None = None
        self.hosts: list[tuple[Child, int]] = []  # (process, subscribers in it)
        self.port = 0
        self.srtp_profile: str | None = None
        self.publisher_info: dict[str, Any] = {}

    @property
    def children(self) -> list[Child]:
        out = [c for c in (self.server, self.publisher) if c is not None]
        return out + [h for h, _ in self.hosts]

    @property
    def subscribers(self) -> int:
        return sum(n for _, n in self.hosts)

    async def start(self) -> None:
        extra = ["--sfu-path", self.args.sfu_path] if self.args.sfu_path else []
        self.server = await Child.start(
            f"{self.mode}-server", [self.server_role, *extra], self.logdir
        )
        self.port = (await self.server.request("listen", timeout=60))["port"]
        self.publisher = await Child.start(f"{self.mode}-publisher", ["publisher"], self.logdir)
        self.publisher_info = await self.publisher.request(
            "start", timeout=60, port=self.port, dialect=self.dialect
        )

    async def grow(self, total: int) -> dict[str, Any]:
        """Add subscribers until there are ``total``, at most ``per_process`` per process."""
        t0 = time.monotonic()
        while self.subscribers < total:
            if not self.hosts or self.hosts[-1][1] >= self.args.per_process:
                name = f"{self.mode}-subscribers-{len(self.hosts)}"
                host = await Child.start(name, ["subscribers"], self.logdir)
                self.hosts.append((host, 0))
            host, count = self.hosts[-1]
            add = min(total - self.subscribers, self.args.per_process - count)
            res = await host.request(
                "add",
                timeout=60 + add,
                port=self.port,
                dialect=self.dialect,
                count=add,
                first_index=self.subscribers,
                parallel=self.args.connect_parallel,
                rtcp=self.args.subscriber_rtcp,
            )
            self.srtp_profile = self.srtp_profile or res.get("srtp_profile")
            self.hosts[-1] = (host, count + add)
        return {"connect_s": round(time.monotonic() - t0, 2)}

    async def wait_flowing(self, timeout: float) -> float:
        """Wait until every subscriber has received video; returns the seconds it took."""
        t0 = time.monotonic()
        while True:
            stats = await asyncio.gather(*(h.request("stats") for h, _ in self.hosts))
            if all(s["video"] > 0 for st in stats for s in st["subscribers"]):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                subs = [s for st in stats for s in st["subscribers"]]
                silent = [s for s in subs if s["video"] == 0]
                mute = sum(1 for s in silent if s["audio"] == 0)
                down = sum(1 for s in silent if not s.get("up", 1))
                server: dict[str, Any] = {}
                if self.server is not None:
                    with contextlib.suppress(ChildError):
                        server = await self.server.request("stats")
                diag = {k: server.get(k) for k in ("events", "errors", "server_details")}
                raise ChildError(
                    f"{len(silent)} of {len(subs)} subscribers received no video after "
                    f"{timeout:.0f} s ({mute} no audio either, {down} not connected); "
                    f"server: {json.dumps(diag)}"
                )
            await asyncio.sleep(0.25)

    async def snapshot(self, start: bool) -> dict[str, Any]:
        assert self.server is not None and self.publisher is not None
        machine = machine_sample()
        drops = udp_drops([c.pid for c in self.children])
        server, publisher, *hosts = await asyncio.gather(
            self.server.request("stats", rescan=start),
            self.publisher.request("stats"),
            *(h.request("stats") for h, _ in self.hosts),
        )
        return {
            "machine": machine,
            "drops": drops,
            "server": server,
            "publisher": publisher,
            "hosts": hosts,
        }

    async def settle(self, timeout: float) -> float:
        """Wait (up to ``timeout``) until the server takes in packets as fast as the publisher
        sends them: after many subscribers joined at once it may still be working off a
        backlog. Returns the seconds waited."""
        assert self.server is not None and self.publisher is not None
        t0 = time.monotonic()
        prev = None
        while time.monotonic() - t0 < timeout:
            srv, pub = await asyncio.gather(
                self.server.request("stats"), self.publisher.request("stats")
            )
            cur = (srv["wall"], srv["packets_in"], pub["wall"], sum(pub["packets"].values()))
            if prev is not None and cur[0] > prev[0] and cur[2] > prev[2]:
                server_rate = (cur[1] - prev[1]) / (cur[0] - prev[0])
                pub_rate = (cur[3] - prev[3]) / (cur[2] - prev[2])
                if pub_rate > 0 and server_rate >= 0.97 * pub_rate:
                    break
            prev = cur
            await asyncio.sleep(1.0)
        return time.monotonic() - t0

    async def measure(self, n: int, connect: dict[str, Any]) -> dict[str, Any]:
        args = self.args
        flowing = await self.wait_flowing(args.flow_timeout)
        connect["settle_s"] = round(await self.settle(10.0), 1)
        await asyncio.sleep(args.warmup)
        a = await self.snapshot(start=True)
        await asyncio.sleep(args.window)
        b = await self.snapshot(start=False)
        result = self.figures(n, a, b, {**connect, "first_video_s": round(flowing, 2)})
        if args.idle_window > 0 and self.mode == "forward":
            result["details"]["server_idle_cpu_percent"] = await self.idle_cpu(args.idle_window)
        return result

    async def idle_cpu(self, seconds: float) -> float | None:
        """The server's CPU with every subscriber connected but no media: the per-subscriber
        background (RTCP timers, ICE consent, heartbeats, the participants' tasks)."""
        assert self.server is not None and self.publisher is not None
        await self.publisher.request("pause")
        try:
            await asyncio.sleep(1.0)
            a = await self.server.request("cpu")
            await asyncio.sleep(seconds)
            b = await self.server.request("cpu")
        finally:
            await self.publisher.request("resume")
        return r((b["cpu"] - a["cpu"]) / (b["wall"] - a["wall"]) * 100, 2)

    def figures(
        self, n: int, a: dict[str, Any], b: dict[str, Any], extra: dict[str, Any]
    ) -> dict[str, Any]:
        # Every process stamps its own answer (CLOCK_MONOTONIC is system-wide): rates are taken
        # over each process's own window, so a late answer on a loaded machine skews nothing.
        def span(x: dict[str, Any], y: dict[str, Any]) -> float:
            return float(y["wall"] - x["wall"])

        wall = span(a["server"], b["server"])
        server_cpu = b["server"]["cpu"] - a["server"]["cpu"]
        pa, pb = a["publisher"], b["publisher"]
        pub_wall = span(pa, pb)
        pub_video = pb["packets"]["video"] - pa["packets"]["video"]
        pub_audio = pb["packets"]["audio"] - pa["packets"]["audio"]
        pub_packets = pub_video + pub_audio
        pub_rate = pub_packets / pub_wall
        host_walls = [span(ha, hb) for ha, hb in zip(a["hosts"], b["hosts"], strict=True)]
        per_sub: list[dict[str, float]] = []
        subs_b: list[dict[str, Any]] = []
        for ha, hb, w in zip(a["hosts"], b["hosts"], host_walls, strict=True):
            for sa, sb in zip(ha["subscribers"], hb["subscribers"], strict=True):
                per_sub.append(
                    {
                        k: (sb[k] - sa[k]) / w
                        for k in ("video", "audio", "other", "video_frames", "expected")
                    }
                )
                subs_b.append(sb)
        assert len(per_sub) == n, (len(per_sub), n)
        received_rate = sum(s["video"] + s["audio"] for s in per_sub)
        down = sum(1 for s in subs_b if not s.get("up", 1))
        other = sum(s["other"] for s in per_sub)
        reports = sum(
            (hb.get("reports_sent", 0) - ha.get("reports_sent", 0)) / w
            for ha, hb, w in zip(a["hosts"], b["hosts"], host_walls, strict=True)
        )
        host_cpu = [
            (hb["cpu"] - ha["cpu"]) / w * 100
            for ha, hb, w in zip(a["hosts"], b["hosts"], host_walls, strict=True)
        ]
        pub_cpu = (pb["cpu"] - pa["cpu"]) / pub_wall * 100
        srv_a, srv_b = a["server"], b["server"]
        server_in = (srv_b.get("packets_in", 0) - srv_a.get("packets_in", 0)) / wall
        if self.mode in ("mediarelay", "clip"):
            # sent per subscriber by aiortc: compare with what the server sent
            expected_rate = (srv_b["packets_out"] - srv_a["packets_out"]) / wall
        else:
            expected_rate = pub_rate * n
        # packets in: as the server counted them (it may lag behind the publisher when the
        # machine starves it; its CPU then paid for what it processed, not what was sent)
        # (mediarelay: aiortc's receiver statistics are not reliable enough; the publisher's)
        in_rate = server_in if self.mode == "forward" else pub_rate
        us = server_cpu / wall / (in_rate * n) * 1e6 if in_rate > 0 else None
        fps = [s["video_frames"] for s in per_sub]
        rate_ratios = [(s["video"] + s["audio"]) / pub_rate if pub_rate else 0.0 for s in per_sub]
        # loss from sequence-number gaps (immune to what sits in socket queues at the edges)
        seq_expected = sum(s["expected"] for s in per_sub)
        seq_ratios = [
            (s["video"] + s["audio"]) / s["expected"] if s["expected"] else 0.0 for s in per_sub
        ]
        received = received_rate
        expected = expected_rate
        pub_video = pub_video / pub_wall * wall
        pub_packets = pub_packets / pub_wall * wall
        assert self.server is not None and self.publisher is not None
        da, db = a["drops"], b["drops"]

        def dropped(pid: int) -> int:
            return drops_between(da.get(pid, {}), db.get(pid, {}))

        details: dict[str, Any] = {
            "window_s": r(wall, 2),
            # datagrams the kernel dropped (receive buffer full) during the window
            "udp_drops_server": dropped(self.server.pid),
            "udp_drops_publisher": dropped(self.publisher.pid),
            "udp_drops_subscribers": sum(dropped(h.pid) for h, _ in self.hosts),
            "server_cpu_percent": r(server_cpu / wall * 100, 1),
            "publisher_cpu_percent": r(pub_cpu, 1),
            "subscriber_processes": len(host_cpu),
            "subscriber_cpu_percent": [r(c, 1) for c in host_cpu],
            "subscriber_rtcp_reports_per_s": r(reports, 1),
            "machine_busy_cores": r(machine_busy_cores(a["machine"], b["machine"]), 2),
            "load": load_average(),
            "publisher_packets_per_s": r(pub_packets / wall, 1),
            "publisher_video_packets_per_s": r(pub_video / wall, 1),
            "publisher_fps": r((pb["video_frames"] - pa["video_frames"]) / pub_wall, 1),
            "server_packets_in_per_s": r(server_in, 1) if server_in >= 0 else None,
            "subscriber_fps_mean": r(sum(fps) / len(fps), 1) if fps else None,
            "subscriber_fps_min": r(min(fps), 1) if fps else None,
            "subscriber_received_ratio_min": r(min(seq_ratios), 4) if seq_ratios else None,
            # received rate / (publisher's send rate x N), or / the server's send rate for
            # mediarelay: also catches a subscriber that gets nothing at all
            "rate_ratio": r(received / expected, 4) if expected else None,
            "subscriber_rate_ratio_min": r(min(rate_ratios), 4)
            if rate_ratios and self.mode == "forward"
            else None,
            "other_packets": other,
            "subscribers_disconnected": down,
            "keyframe_requests": pb["keyframe_requests"] - pa["keyframe_requests"],
            "keyframe_requests_total": pb["keyframe_requests"],
            "publisher_retransmissions": pb["retransmissions"] - pa["retransmissions"],
            "publisher_state": pb["state"],
            "srtp_profile": self.srtp_profile,
            **extra,
        }
        fields: dict[str, Any] = {
            "us_per_packet": r(us),
            "cpu_percent_per_subscriber": r(server_cpu / wall * 100 / n, 4),
            "received_ratio": r(received / seq_expected, 4) if seq_expected else None,
        }
        hist_a, hist_b = srv_a.get("latency_histogram"), srv_b.get("latency_histogram")
        if hist_a is not None and hist_b is not None:
            count_a = dict((float(k), c) for k, c in hist_a)
            buckets = sorted((float(k), c - count_a.get(float(k), 0)) for k, c in hist_b)
            p50 = _percentile_from_histogram(buckets, 0.50)
            p99 = _percentile_from_histogram(buckets, 0.99)
            fields["latency_p50_ms"] = r(p50)
            fields["latency_p99_ms"] = r(p99)
            details["latency_samples"] = sum(c for _, c in buckets)
        for key in ("server_details", "events", "errors", "recorder"):
            if srv_b.get(key):
                details[key] = srv_b[key]
        return line(self.mode, n, **fields, details=details)

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in reversed(self.children)))


def saturated(result: dict[str, Any]) -> str | None:
    """Why this case did not keep up (None if it did), naming the side that fell behind."""
    d = result["details"]
    reasons = []
    if d["subscriber_fps_min"] is not None and d["subscriber_fps_min"] < 0.9 * EXPECTED_FPS:
        reasons.append(f"a subscriber got {d['subscriber_fps_min']} fps (< 90 % of {EXPECTED_FPS})")
    if result["received_ratio"] is not None and result["received_ratio"] < 0.99:
        reasons.append(f"received ratio {result['received_ratio']}")
    if d["rate_ratio"] is not None and d["rate_ratio"] < 0.9:
        reasons.append(f"received rate only {d['rate_ratio']} of the sent rate")
    if not reasons:
        return None
    server_in, published = d.get("server_packets_in_per_s"), d.get("publisher_packets_per_s")
    behind = []
    if d["udp_drops_server"] or (server_in and published and server_in < 0.95 * published):
        ingress = f"ingress {server_in}/s of {published}/s sent, " if server_in else ""
        behind.append(
            f"server ({ingress}{d['udp_drops_server']} datagrams dropped, "
            f"CPU {d['server_cpu_percent']} %)"
        )
    if d["udp_drops_subscribers"] or max(d["subscriber_cpu_percent"] or [0]) > 90:
        behind.append(
            f"subscribers ({d['udp_drops_subscribers']} datagrams dropped, "
            f"CPU {d['subscriber_cpu_percent']} %)"
        )
    if d["machine_busy_cores"] is not None and d["machine_busy_cores"] > 0.95 * (
        os.cpu_count() or 1
    ):
        behind.append(f"machine ({d['machine_busy_cores']} cores busy, load {d['load']})")
    return "; ".join(reasons) + (" - behind: " + ", ".join(behind) if behind else "")


async def run_room(
    mode: str,
    args: argparse.Namespace,
    logdir: Path,
    out: Output,
    counts: list[int],
    deadline: float,
    stop_when_saturated: bool,
) -> None:
    server_role, dialect = {
        "mediarelay": ("relay-server", "relay"),
        "clip": ("clip-server", "relay"),
        "forward": ("forward-server", "hub"),
    }[mode]
    room = Room(mode, args, logdir, server_role, dialect)
    try:
        await room.start()
        for n in counts:
            remaining = deadline - time.monotonic()
            if remaining < args.warmup + args.window + 10:
                out.emit(
                    line(
                        mode, n, error=f"skipped: run time budget used up ({remaining:.0f} s left)"
                    )
                )
                break
            try:
                connect = await room.grow(n)
                result = await room.measure(n, connect)
            except (ChildError, AssertionError) as exc:
                out.emit(line(mode, n, error=str(exc)))
                break
            reason = saturated(result)
            if reason:
                result["details"]["saturated"] = reason
            out.emit(result)
            if reason:
                out.note(f"{mode}: did not keep up at N={n}: {reason}")
                if stop_when_saturated:
                    break
    except ChildError as exc:
        out.emit(line(mode, room.subscribers, error=str(exc)))
    finally:
        await room.close()


# -- summary -----------------------------------------------------------------------------------


def summary(lines: list[dict[str, Any]], target_n: int) -> dict[str, Any]:
    """Ratios against the targets, from cases that kept up only (a case where the server lagged
    or lost packets gives no valid figure: it is named in ``invalid`` instead)."""
    cases = [x for x in lines if "mode" in x and "error" not in x and x.get("us_per_packet")]
    kept_up = [x for x in cases if not x["details"].get("saturated")]
    forward = [x for x in kept_up if x["mode"] == "forward"]
    relay_all = [x for x in cases if x["mode"] == "mediarelay"]
    relay = [x for x in relay_all if not x["details"].get("saturated")]
    floors = [x for x in cases if x["mode"] == "floor"]
    out: dict[str, Any] = {"targets": TARGETS, "load": load_average()}
    out["invalid"] = [
        f"{x['mode']} N={x['subscribers']}: {x.get('error') or x['details'].get('saturated')}"
        for x in lines
        if "mode" in x and ("error" in x or x.get("details", {}).get("saturated"))
    ]
    fwd = next((x for x in forward if x["subscribers"] == target_n), None)
    if fwd is None and forward:
        fwd = max(forward, key=lambda x: x["subscribers"])
    kept = [x["subscribers"] for x in forward]
    out["forward_kept_up_at"] = kept
    profile = fwd["details"].get("srtp_profile") if fwd else None
    floor = next((x for x in floors if x["details"]["srtp_profile"] == profile), None)
    floor = floor or (floors[-1] if floors else None)
    if floor:
        out["floor_us_per_packet"] = floor["us_per_packet"]
        out["floor_srtp_profile"] = floor["details"]["srtp_profile"]
        out["floor_us_per_packet_by_profile"] = {
            x["details"]["srtp_profile"]: x["us_per_packet"] for x in floors
        }
    if relay:
        # the cheapest MediaRelay subscriber measured while it kept up (the most favourable
        # figure for it: past saturation it skips frames, so its CPU per subscriber falls)
        cheapest = min(relay, key=lambda x: x["cpu_percent_per_subscriber"])
        out["mediarelay_cpu_percent_per_subscriber"] = cheapest["cpu_percent_per_subscriber"]
        out["mediarelay_at_subscribers"] = cheapest["subscribers"]
        if len(relay) >= 2:
            # what one more relayed subscriber costs (one more encoder): the decoder cancels out
            a, b = sorted(relay, key=lambda x: x["subscribers"])[-2:]
            extra = (b["details"]["server_cpu_percent"] - a["details"]["server_cpu_percent"]) / (
                b["subscribers"] - a["subscribers"]
            )
            out["mediarelay_marginal_cpu_percent_per_subscriber"] = r(extra, 2)
    sat = [x for x in relay_all if x["details"].get("saturated")]
    out["mediarelay_saturated_at"] = sat[0]["subscribers"] if sat else None
    by_n = {x["subscribers"]: x for x in forward}
    if 50 in by_n and 100 in by_n:
        # what the 51st to 100th subscriber cost, per copy (fixed costs cancel out)
        a, b = by_n[50], by_n[100]
        cpu_a = a["details"]["server_cpu_percent"] / 100
        cpu_b = b["details"]["server_cpu_percent"] / 100
        copies_a = a["details"]["server_packets_in_per_s"] * 50
        copies_b = b["details"]["server_packets_in_per_s"] * 100
        if copies_b > copies_a:
            out["forward_marginal_us_per_copy_50_to_100"] = r(
                (cpu_b - cpu_a) / (copies_b - copies_a) * 1e6
            )
    if fwd:
        out["forward_subscribers"] = fwd["subscribers"]
        out["forward_us_per_packet"] = fwd["us_per_packet"]
        out["forward_cpu_percent_per_subscriber"] = fwd["cpu_percent_per_subscriber"]
        out["forward_received_ratio"] = fwd["received_ratio"]
        out["latency_p50_ms"] = fwd["latency_p50_ms"]
        out["latency_p99_ms"] = fwd["latency_p99_ms"]
        met: dict[str, bool | None] = {
            "us_per_packet": fwd["us_per_packet"] <= TARGETS["us_per_packet_max"],
        }
        if floor:
            ratio = fwd["us_per_packet"] / floor["us_per_packet"]
            out["ratio_to_floor"] = r(ratio, 2)
            met["ratio_to_floor"] = ratio <= TARGETS["ratio_to_floor_max"]
        if relay:
            ratio = out["mediarelay_cpu_percent_per_subscriber"] / fwd["cpu_percent_per_subscriber"]
            out["mediarelay_to_forward_per_subscriber"] = r(ratio, 1)
            marginal = out.get("mediarelay_marginal_cpu_percent_per_subscriber")
            if marginal:
                out["mediarelay_marginal_to_forward_per_subscriber"] = r(
                    marginal / fwd["cpu_percent_per_subscriber"], 1
                )
            met["mediarelay_ratio"] = ratio >= TARGETS["mediarelay_per_subscriber_ratio_min"]
        for q in ("p50", "p99"):
            value = fwd[f"latency_{q}_ms"]
            limit = TARGETS[f"latency_{q}_ms_max"]
            met[f"latency_{q}"] = None if value is None else value <= limit
        if fwd["subscribers"] != target_n:
            out["note"] = f"no valid forward case at N={target_n}: figures are for N={kept[-1]}"
        out["targets_met"] = met
    return {"summary": out}


# -- main --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--json", action="store_true", help="one JSON object per line on stdout")
    p.add_argument("--quick", action="store_true", help="short windows, few subscribers")
    p.add_argument("--modes", default="floor,mediarelay,forward")
    p.add_argument("--subscribers", default=None, help="forward mode N list (1,10,50,100,200)")
    p.add_argument("--relay-subscribers", default=None, help="mediarelay N list (1,2,4,8)")
    p.add_argument("--window", type=float, default=None, help="measured seconds per case")
    p.add_argument("--warmup", type=float, default=None, help="seconds before the window")
    p.add_argument("--floor-seconds", type=float, default=None)
    p.add_argument(
        "--idle-window",
        type=float,
        default=None,
        help="forward: seconds of server CPU measured with the publisher paused (0: skip)",
    )
    p.add_argument("--floor-sessions", type=int, default=100)
    p.add_argument(
        "--floor-profiles",
        default=None,
        help=f"SRTP profiles for the floor (default: {','.join(FLOOR_PROFILES)})",
    )
    p.add_argument("--per-process", type=int, default=50, help="subscribers per client process")
    p.add_argument("--connect-parallel", type=int, default=8)
    p.add_argument(
        "--no-subscriber-rtcp",
        dest="subscriber_rtcp",
        action="store_false",
        help="subscribers send no receiver reports (by default: RR + REMB once a second)",
    )
    p.add_argument("--flow-timeout", type=float, default=30.0)
    p.add_argument("--max-seconds", type=float, default=None, help="budget of the whole run")
    p.add_argument(
        "--sfu-path",
        default=os.environ.get("FANOUT_SFU_PATH"),
        help="directory holding the SFU's media/ package (default: this checkout)",
    )
    p.add_argument("--keep-logs", action="store_true", help="keep the child processes' logs")
    args = p.parse_args(argv)
    q = args.quick
    args.subscribers = [
        int(x) for x in (args.subscribers or ("1,10" if q else "1,10,50,100,200")).split(",")
    ]
    args.relay_subscribers = [
        int(x) for x in (args.relay_subscribers or ("1" if q else "1,2,4,8")).split(",")
    ]
    args.window = args.window or (3.0 if q else 10.0)
    args.warmup = args.warmup if args.warmup is not None else (1.0 if q else 3.0)
    args.floor_seconds = args.floor_seconds or (1.5 if q else 4.0)
    args.idle_window = args.idle_window if args.idle_window is not None else (0 if q else 4.0)
    args.max_seconds = args.max_seconds or (120.0 if q else 480.0)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    default_profiles = [FLOOR_PROFILES[0], FLOOR_PROFILES[2]] if q else FLOOR_PROFILES
    args.floor_profiles = (
        args.floor_profiles.split(",") if args.floor_profiles else default_profiles
    )
    return args


async def main_async(args: argparse.Namespace) -> int:
    out = Output(args.json)
    deadline = time.monotonic() + args.max_seconds
    logdir = Path(tempfile.mkdtemp(prefix="lecturehub-fanout-"))
    out.note(f"fanout: logs in {logdir}; load {load_average()}")
    failed = False
    try:
        for mode in args.modes:
            if mode == "floor":
                await run_floor(args, logdir, out)
            elif mode == "mediarelay":
                await run_room(mode, args, logdir, out, args.relay_subscribers, deadline, True)
            elif mode in ("forward", "clip"):
                await run_room(mode, args, logdir, out, args.subscribers, deadline, False)
            else:
                raise SystemExit(f"unknown mode {mode}")
        failed = any("error" in x for x in out.lines)
        out.emit(summary(out.lines, 100))
    finally:
        if not args.keep_logs and not failed:
            for f in logdir.iterdir():
                f.unlink()
            logdir.rmdir()
        elif failed:
            out.note(f"fanout: child logs kept in {logdir}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    # a SIGTERM ends the run like Ctrl-C: the finally blocks close every child process
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(main_async(args))
    return 130


if __name__ == "__main__":
    sys.exit(main())

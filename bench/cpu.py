"""CPU accounting for the benchmarks: process CPU time, not wall clock.

A process measures itself with ``resource.getrusage`` (nanosecond-precise total of user and
system time on Linux, all threads included, also those that already ended). Another process is
read from ``/proc/<pid>/stat`` (clock ticks). The machine's load and idle time come from
``/proc/loadavg`` and ``/proc/stat``.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK")


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def pid_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process, from /proc (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        text = f.read()
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15
    return (int(fields[11]) + int(fields[12])) / _TICK


@dataclass(frozen=True)
class MachineSample:
    wall: float
    busy: float  # CPU seconds spent by all cores on anything but idle/iowait
    total: float  # CPU seconds of all cores


def machine_sample() -> MachineSample:
    with open("/proc/stat", encoding="ascii") as f:
        first = f.readline().split()
    values = [int(v) / _TICK for v in first[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return MachineSample(time.monotonic(), total - idle, total)


def machine_busy_cores(a: MachineSample, b: MachineSample) -> float:
    """Average number of busy cores between two samples (0..nproc)."""
    wall = b.wall - a.wall
    return (b.busy - a.busy) / wall if wall > 0 else 0.0


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(f"{fd_dir}/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def udp_drops(pids: list[int]) -> dict[int, dict[str, int]]:
    """Per process, per UDP socket (inode): datagrams the kernel dropped (receive buffer full)."""
    owner: dict[str, int] = {}
    for pid in pids:
        for inode in _socket_inodes(pid):
            owner[inode] = pid
    drops: dict[int, dict[str, int]] = {pid: {} for pid in pids}
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table, encoding="ascii") as f:
                next(f)
                for row in f:
                    fields = row.split()
                    who = owner.get(fields[9])
                    if who is not None:
                        drops[who][fields[9]] = int(fields[12])
        except OSError:
            continue
    return drops


def drops_between(a: dict[str, int], b: dict[str, int]) -> int:
    """Drops between two ``udp_drops`` samples of one process (sockets closed since a: ignored)."""
    return sum(n - a.get(inode, 0) for inode, n in b.items())

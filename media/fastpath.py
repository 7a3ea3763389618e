"""The per-subscriber loop in C: rewrite, srtp_protect, sendto, for all targets in one call.

The C function is built with cffi the first time it is needed (a C compiler and Python headers
are required; about 3 s) and cached under $XDG_CACHE_HOME/lecturehub (or ~/.cache). It calls
libsrtp's `srtp_protect` through the function pointer pylibsrtp already loaded, so nothing is
linked against libsrtp here. When it cannot be built (no compiler) or when
LECTUREHUB_FASTPATH=0, `load()` returns None and the forwarder keeps its Python loop, which
does exactly the same per packet.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import socket
import struct
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CDEF = """
struct lh_target {
    void *srtp;
    int fd;
    int addrlen;
    unsigned char addr[28];
    unsigned char pt;
    unsigned short seq_off;
    unsigned int ts_off;
    unsigned int ssrc;
};
int lh_fanout(const char *data, int n, struct lh_target *targets, int count,
              void *protect, int *bytes_out);
"""

SOURCE = r"""
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>

struct lh_target {
    void *srtp;
    int fd;
    int addrlen;
    unsigned char addr[28];
    unsigned char pt;
    unsigned short seq_off;
    unsigned int ts_off;
    unsigned int ssrc;
};

typedef int (*lh_protect_fn)(void *, void *, int *);

/* For each target: copy the packet, rewrite payload type, sequence number, timestamp and
   SSRC, protect it with the target's SRTP session and send it. Returns packets sent. */
int lh_fanout(const char *data, int n, struct lh_target *t, int count,
              void *protect, int *bytes_out)
{
    unsigned char buf[1500 + 144];
    const unsigned char *in = (const unsigned char *)data;
    lh_protect_fn fn = (lh_protect_fn)protect;
    int sent = 0, total = 0;
    *bytes_out = 0;
    if (n < 12 || n > 1500)
        return 0;
    unsigned char mark = in[1] & 0x80;
    unsigned int seq = ((unsigned int)in[2] << 8) | in[3];
    unsigned int ts = ((unsigned int)in[4] << 24) | ((unsigned int)in[5] << 16)
                    | ((unsigned int)in[6] << 8) | in[7];
    for (int i = 0; i < count; i++, t++) {
        memcpy(buf, in, n);
        unsigned int s = (seq + t->seq_off) & 0xFFFF;
        unsigned int x = ts + t->ts_off;
        buf[1] = mark | t->pt;
        buf[2] = s >> 8; buf[3] = s & 0xFF;
        buf[4] = x >> 24; buf[5] = (x >> 16) & 0xFF; buf[6] = (x >> 8) & 0xFF; buf[7] = x & 0xFF;
        buf[8] = t->ssrc >> 24; buf[9] = (t->ssrc >> 16) & 0xFF;
        buf[10] = (t->ssrc >> 8) & 0xFF; buf[11] = t->ssrc & 0xFF;
        int len = n;
        if (fn(t->srtp, buf, &len) != 0)
            continue;
        if (sendto(t->fd, buf, len, MSG_DONTWAIT, (const struct sockaddr *)t->addr,
                   (socklen_t)t->addrlen) == len) {
            sent++;
            total += len;
        }
    }
    *bytes_out = total;
    return sent;
}
"""

_loaded: Any = None
_tried = False


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lecturehub"


def _build() -> Any:
    import cffi

    digest = hashlib.sha256((CDEF + SOURCE).encode()).hexdigest()[:12]
    name = f"_lh_fanout_{digest}"
    directory = _cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    existing = sorted(directory.glob(f"{name}.*.so")) + sorted(directory.glob(f"{name}.so"))
    if existing:
        path = str(existing[0])
    else:
        ffi = cffi.FFI()
        ffi.cdef(CDEF)
        ffi.set_source(name, SOURCE, extra_compile_args=["-O2"])
        with tempfile.TemporaryDirectory() as tmp:
            built = Path(ffi.compile(tmpdir=tmp, verbose=False))
            target = directory / built.name
            os.replace(built, target)  # atomic: concurrent builders do not see half a file
            path = str(target)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load() -> Any:
    """The compiled module (with `.ffi` and `.lib`), or None if unavailable."""
    global _loaded, _tried
    if _tried:
        return _loaded
    _tried = True
    if os.environ.get("LECTUREHUB_FASTPATH", "1") == "0":
        return None
    try:
        _loaded = _build()
    except Exception as exc:  # no compiler, no headers, read-only cache...
        logger.warning("C fan-out loop unavailable, using the Python loop: %s", exc)
        _loaded = None
    return _loaded


def sockaddr(address: tuple[str, int]) -> bytes | None:
    """A struct sockaddr_in / sockaddr_in6 for sendto, in this machine's layout (Linux)."""
    host, port = address[0], address[1]
    try:
        return struct.pack("=H", socket.AF_INET) + struct.pack(
            ">H4s8x", port, socket.inet_pton(socket.AF_INET, host)
        )
    except OSError:
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, host)
    except OSError:
        return None
    return struct.pack("=H", socket.AF_INET6) + struct.pack(">HI16sI", port, 0, packed, 0)


def protect_address() -> int:
    from pylibsrtp._binding import ffi, lib

    return int(ffi.cast("uintptr_t", ffi.addressof(lib, "srtp_protect")))


def pointer_address(cdata: Any) -> int:
    from pylibsrtp._binding import ffi

    return int(ffi.cast("uintptr_t", cdata))

"""Fewer glibc malloc arenas, so memory that Chroma's and ONNX Runtime's threads free goes back
into use instead of piling up; and a way to hand freed memory back to the system.

glibc gives each thread that allocates concurrently an arena of its own (up to 8 per core), and
memory freed in one arena is reused only by that arena. Chroma reads pages of chunks on its
runtime's threads: reading a store back (the BM25 rebuild after a first ingest) left hundreds of
MB freed but held. Measured on a 20k-chunk `newsbot bench` build (`python scripts/memory_probe.py
--build 20000 DIR`, docs/bench/README.md): peak RSS 1,071-1,119 MB with glibc's default, 847 MB
with this call, 787 MB with MALLOC_ARENA_MAX=2 set before the process starts (which also covers
the threads started during imports), for the same ingest time. This does it from inside, for
every way newsbot is run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import sys

log = logging.getLogger(__name__)

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def _glibc(call: str, *args: int) -> bool:
    """`call(*args)` of the C library when it is glibc's (musl has neither mallopt nor
    malloc_trim); False off Linux or when it is missing."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(getattr(libc, call)(*args))
    except (OSError, AttributeError) as exc:
        log.debug("cannot call %s: %s", call, exc)
        return False


@functools.cache
def limit_arenas() -> bool:
    """Cap glibc's arenas at ARENAS for threads started from now on (once per process; a no-op
    off glibc, or when MALLOC_ARENA_MAX is set, which glibc has then applied itself)."""
    return "MALLOC_ARENA_MAX" not in os.environ and _glibc("mallopt", _M_ARENA_MAX, ARENAS)


def release_free_memory() -> bool:
    """Hand memory that has been freed but kept by glibc back to the system (malloc_trim). A long
    ingest calls it after each BM25 catch-up, whose reads from Chroma leave freed pages behind:
    `memory_probe.py --build 20000`, peak 815 -> 722 MB and 816 -> 564 MB resident at the end
    (2026-12-02). A no-op off glibc."""
    return _glibc("malloc_trim", 0)

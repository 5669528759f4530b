"""index/malloc.py against glibc itself: freed memory that glibc keeps is handed back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent(
    """
    import ctypes
    from pathlib import Path
    from index.malloc import release_free_memory

    def rss_mb():
        return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) // 1024

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    blocks = [libc.malloc(4096) for _ in range(50_000)]  # ~200 MB in small blocks, touched
    for block in blocks:
        libc.memset(block, 1, 4096)
    for block in blocks[:-1]:  # the last one pins the heap's top: glibc cannot shrink it by itself
        libc.free(block)
    before = rss_mb()
    print(release_free_memory(), before, rss_mb())
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_glibc_keeps_is_handed_back() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    trimmed, before, after = done.stdout.split()
    assert trimmed == "True"
    assert int(before) - int(after) > 150, done.stdout  # MB

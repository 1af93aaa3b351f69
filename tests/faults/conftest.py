"""Fault-suite fixtures: a disk-full artifact store on a small tmpfs (needs root), budgets."""
from __future__ import annotations

import os
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# Every refused input must be refused within these (the goals).
REFUSE_S = 1.0
REFUSE_BYTES = 100 * 1024 * 1024


def refused_within_budget(what: str, fn: Callable[[], object], error: type[BaseException], match: str,
                          *, seconds: float = REFUSE_S, peak_bytes: int = REFUSE_BYTES) -> BaseException:
    """``fn()`` must raise ``error`` matching ``match`` within ``seconds`` (timed alone) and with a
    Python allocation peak under ``peak_bytes`` (a second run under tracemalloc, which slows it)."""
    t0 = time.perf_counter()
    with pytest.raises(error, match=match) as info:
        fn()
    elapsed = time.perf_counter() - t0
    assert elapsed < seconds, f"{what}: refused after {elapsed:.2f}s (budget {seconds}s)"
    tracemalloc.start()
    try:
        with pytest.raises(error, match=match):
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < peak_bytes, f"{what}: peaked at {peak / 2**20:.1f} MiB (budget {peak_bytes / 2**20:.0f} MiB)"
    return info.value


@pytest.fixture
def small_volume(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted under ``tmp_path`` (skipped with the reason when mounting is not allowed)."""
    mount = tmp_path / f"vol-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("disk-full test needs root to mount a 2 MiB tmpfs (mount -t tmpfs -o size=2m); run as root or in CI")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}); the disk-full test needs CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)

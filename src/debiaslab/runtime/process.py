"""Process tuning every `debiaslab` job applies before it runs its command: the garbage collector,
glibc's memory reuse and PyTorch's thread count."""

from __future__ import annotations

import gc
import os


def collect_full_generation_rarely() -> None:
    """Python's full (generation-2) garbage collections rescan every live object. Importing torch +
    transformers builds ~430k of them, and the ~7 full collections that triggers cost ~1 s of every
    model job's ~6 s start-up on one CPU core. Full collections 10x rarer (the threshold 10 -> 100);
    the young generations are collected as before, so short-lived cycles still go at once."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def keep_freed_memory() -> bool:
    """By default glibc gives large freed blocks back to the kernel (mmap'd blocks are unmapped, the
    heap's free top is trimmed past a small threshold), so every batched forward on CPU faults its
    multi-MB activations in again page by page: ~5,000 page faults and 20-30% of a 64-row scoring
    forward of the testbed models. Keep freed memory for reuse instead: blocks up to 32 MiB (glibc's
    largest mmap threshold) come from the heap, and the heap is trimmed only past 1 GiB free
    (PyTorch's CPU tuning guide gets the same from jemalloc or tcmalloc). Left alone where the user set
    these thresholds (MALLOC_*_THRESHOLD_, GLIBC_TUNABLES); a no-op without glibc. True where it
    changed them."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if (
        "MALLOC_MMAP_THRESHOLD_" in os.environ
        or "MALLOC_TRIM_THRESHOLD_" in os.environ
        or "malloc.mmap_threshold" in tunables
        or "malloc.trim_threshold" in tunables
    ):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without it)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def use_threads(threads: int | None, torch_threads: bool) -> None:
    """A job's CPU thread count: OpenMP's (unless set already) and, for commands that run models
    (`torch_threads`), PyTorch's intra-op pool."""
    if not threads:
        return
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    if torch_threads:
        from debiaslab.models import set_threads

        set_threads(threads)


def tune() -> None:
    """What every command does first (before its arguments are even parsed)."""
    collect_full_generation_rarely()
    keep_freed_memory()

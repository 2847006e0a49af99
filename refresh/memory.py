"""Memory between a refresh's big phases: peak RSS is what a 10,000-gateway org costs the host."""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def consumed(items: list[Any]) -> Iterator[Any]:
    """The items in order, each dropped from the list as it is taken (a gateway's stats
    leave memory as soon as its record is built, not after the whole build)."""
    items.reverse()
    while items:
        yield items.pop()


@contextmanager
def collections_between_refreshes() -> Iterator[None]:
    """The cyclic garbage collector off for a whole refresh, and cycles collected after it.

    A refresh builds millions of long-lived objects (the snapshot, at 10,000 gateways) and
    makes next to no cycles. Left on, the collector, which counts allocations, ran a full
    collection each time the heap had grown by a quarter: a dozen a refresh, 0.15-0.4 s each,
    collecting nothing, and landing in whichever step was allocating (events, availability).
    Reference counting frees what a refresh drops; the few cycles (an HTTP response, an
    exception) wait for give_back_memory at the phase boundaries and once after the refresh
    (a multi-org cycle's only one). Restored after, as it was (a worker run with the
    collector off stays so)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
            give_back_memory()


def give_back_memory() -> None:
    """Collect cycles and hand freed heap pages back to the OS between the big phases.

    Peak RSS is what a 10,000-gateway org costs the host: freed raw Mist lists should make
    room for what comes next instead of sitting in the allocator.
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 - glibc only; musl has none
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _load_libc()


_M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def tune_malloc() -> None:
    """Big blocks (pages of Mist JSON, the encoded documents) straight from the OS and back.

    glibc raises its mmap threshold each time it frees a big mapped block (up to 32 MB);
    the next big blocks then come from the heap, where they leave holes malloc_trim cannot
    give back: about 40 MB of peak RSS at 10,000 gateways. A fixed threshold keeps them out.
    """
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1 << 20)

"""CPU-bound work over untrusted input, moved off the event loop once it is big enough to matter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: Below this many input bytes the work takes well under a millisecond, less than a thread hop
#: costs; above it (a 1 MiB schema parses and checks for seconds) the loop must stay free for others.
OFF_LOOP_BYTES: Final = 16 * 1024


async def cpu_bound(size: int, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``, in a worker thread when ``size`` (the input's bytes) is large.

    The thread holds the GIL in stretches of the interpreter's switch interval (5 ms), so
    ``/healthz`` and other requests keep answering while a large input is parsed or checked.
    """
    if size < OFF_LOOP_BYTES:
        return fn(*args, **kwargs)
    return await asyncio.to_thread(fn, *args, **kwargs)

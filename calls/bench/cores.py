"""CPU pinning: the server and the load generator each get a core of their own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable


def pin(pid: int, core: int) -> None:
    """Pin process `pid` (0: this one) to `core`, when the machine has it."""
    with contextlib.suppress(AttributeError, OSError):
        if core in os.sched_getaffinity(0) or core < (os.cpu_count() or 1):
            os.sched_setaffinity(pid, {core})


def pinner(core: int) -> Callable[[], None]:
    """A `preexec_fn` pinning the child to `core`."""
    def pin_child() -> None:
        pin(0, core)
    return pin_child

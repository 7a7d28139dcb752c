"""Does an upstream internal still look the way a patch in this package expects?

Each patch in `aybiza/server/` names the upstream code it relies on and lists checks built from
the helpers here: an attribute that must exist, a signature that must match, a line of source
that must still be there (the behaviour the patch leans on, e.g. "handle() ignores the
listener's outcome"). An upgraded library that changed any of them gives a list of problems;
the patch is then left out and the standard path runs: slower, still correct.

`fast_path_enabled()` is the one switch every patch asks: the `AYBIZA_SERVER_FAST_PATH`
variable (false: plain daphne, Channels and Django for everything) and the patch's checks. The
first failing check logs one warning per patch (the launcher runs them all first, so a server
logs one warning in all and switches the whole fast path off).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from collections.abc import Callable

logger = logging.getLogger("aybiza.server")

FAST_PATH_ENV = "AYBIZA_SERVER_FAST_PATH"


def env_enabled(name: str) -> bool:
    return os.environ.get(name, "true").strip().lower() not in ("0", "false", "no", "off")


def missing_attributes(owner: object, *names: str) -> list[str]:
    label = getattr(owner, "__qualname__", getattr(owner, "__name__", repr(owner)))
    return [f"{label}.{name} is gone" for name in names if not hasattr(owner, name)]


def _label(owner: object) -> str:
    return getattr(owner, "__qualname__", getattr(owner, "__name__", repr(owner)))


def signature_differs(func: Callable, *parameters: str, label: str = "") -> list[str]:
    """A problem when `func`'s parameter names are not exactly `parameters` (self included).
    `label` names the upstream function (default: its own qualified name)."""
    label = label or _label(func)
    try:
        found = tuple(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return [f"{label} has no signature"]
    if found != parameters:
        return [f"{label}{found} is not {parameters}"]
    return []


def source_lacks(owner: object, *snippets: str, label: str = "") -> list[str]:
    """A problem for each `snippet` no longer in `owner`'s source (whitespace-insensitive)."""
    label = label or _label(owner)
    try:
        source = "".join(inspect.getsource(owner).split())
    except (OSError, TypeError):
        return [f"the source of {label} is not available"]
    return [f"{label} no longer contains {snippet!r}" for snippet in snippets
            if "".join(snippet.split()) not in source]


def run_checks(check: Callable[[], list[str]]) -> list[str]:
    """The problems `check` finds; an import error or a crash in the check is one too."""
    try:
        return check()
    except Exception as exc:  # an upgraded library may fail in any way: that is the finding
        return [f"{type(exc).__name__}: {exc}"]


_warned: set[str] = set()


def warn_fallback(patch: str, problems: list[str]) -> None:
    """One warning per patch and process: what changed upstream and what runs instead."""
    if patch in _warned:
        return
    _warned.add(patch)
    logger.warning(
        "AYBIZA server fast path: %s is switched off because the installed libraries do not "
        "have the shape it was written for (%s). The standard daphne/Channels/Django path runs "
        "instead: correct, but slower. Pin the versions in requirements/base.txt or update "
        "aybiza/server/.", patch, "; ".join(problems))


@functools.cache
def patch_usable(patch: str, check: Callable[[], list[str]]) -> bool:
    """True when `check` finds nothing (cached per process); else warns once."""
    problems = run_checks(check)
    if problems:
        warn_fallback(patch, problems)
    return not problems


def fast_path_enabled(patch: str, check: Callable[[], list[str]]) -> bool:
    """The switch for one patch: the environment allows it and upstream has its shape."""
    return env_enabled(FAST_PATH_ENV) and patch_usable(patch, check)

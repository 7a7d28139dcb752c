"""The built-in tools by name, filled when the tools app is ready (`tools.apps`).

A registry rather than an import: `Tool.clean` checks a row's built-in here, while the built-ins
themselves import the tool models, selectors and call services they act through. Reading
`tools.builtins` from the models would close that loop; this module imports nothing of ours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.builtins.base import Builtin

BUILTINS: dict[str, Builtin] = {}


def register(*builtins: Builtin) -> None:
    for builtin in builtins:
        BUILTINS[builtin.name] = builtin

"""Compliance settings with their defaults in one place (`aybiza/settings/compliance.py`).

Read through `setting(name)`: the value from django.conf.settings when the project imports the
module, else the module's own default (so the app works before the lead wires the import).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from aybiza.settings import compliance as defaults


def setting(name: str) -> Any:
    return getattr(settings, name, getattr(defaults, name))

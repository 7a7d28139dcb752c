"""The call engine does not know which server carries it: it imports without daphne/autobahn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

PROBE = """
import importlib, pkgutil, sys
for name in ("daphne", "autobahn", "twisted", "txaio"):
    sys.modules[name] = None  # `import daphne...` now raises ImportError
import aybiza.settings.test as settings
settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "daphne"]
import django
django.setup()
import calls.realtime
names = ["calls.consumers", "aybiza.asgi", "aybiza.server", "aybiza.server.direct"]
names += [m.name for m in pkgutil.walk_packages(calls.realtime.__path__, "calls.realtime.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_the_call_engine_and_the_consumer_import_without_daphne_or_autobahn():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=BASE_DIR, capture_output=True,
                            text=True, timeout=120,
                            env={"DJANGO_SETTINGS_MODULE": "aybiza.settings.test",
                                 "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.split()[-1]) > 20  # every module of calls.realtime was imported

"""Development / embedded default: everything local, nothing required."""

from pathlib import Path

from .base import *  # noqa: F403
from .env import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
VAR_DIR.mkdir(parents=True, exist_ok=True)
# WhiteNoise looks for collected files here too (none are needed: it serves from the finders).
Path(str(STATIC_ROOT)).mkdir(parents=True, exist_ok=True)  # noqa: F405

"""Development / embedded default: everything local, nothing required."""

from .base import *  # noqa: F403
from .env import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
VAR_DIR.mkdir(parents=True, exist_ok=True)

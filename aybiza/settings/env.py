"""The single environment reader. Every variable is listed in `.env.example` and the README."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local `.env` (never committed) is read when present; the real environment wins.
_dotenv = BASE_DIR / ".env"
if _dotenv.exists():
    environ.Env.read_env(str(_dotenv), overwrite=False)

VAR_DIR = Path(env("AYBIZA_VAR_DIR", default=str(BASE_DIR / "var")))
REDIS_URL: str = env("REDIS_URL", default="")
# Production mode is simply "a Redis is configured": channel layer, broker and cache move to it.
USE_REDIS = bool(REDIS_URL)

"""Tests: same services as the environment provides (PostgreSQL/Redis from devtools.services)."""

from pathlib import Path

from .base import *  # noqa: F403
from .env import VAR_DIR, env

VAR_DIR.mkdir(parents=True, exist_ok=True)
# WhiteNoise looks for collected files here too (none are needed: it serves from the finders).
Path(str(STATIC_ROOT)).mkdir(parents=True, exist_ok=True)  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
MEDIA_ROOT = VAR_DIR / "test-media"
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"api_key": "100000/min"}  # noqa: F405
# Tasks run in-process unless an integration test starts real workers (it sets the env var).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: end-to-end tests run daphne in a second process on the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}  # noqa: F405
# Post-call analysis runs in a background thread when a call ends; tests that are about it turn
# it on and wait for it (learning/tests), others must not race it against their teardown.
POST_CALL_ANALYSIS = env.bool("POST_CALL_ANALYSIS", default=False)
# Agents are saved by the hundred in tests: their greetings are synthesised only where a test
# is about it (calls/tests/test_opening_audio.py).
OPENING_AUDIO_PREPARE = env.bool("OPENING_AUDIO_PREPARE", default=False)
# The dialer is ticked by the tests themselves (an end-to-end test turns the clock on).
DIALER_EMBEDDED_CLOCK = env.bool("DIALER_EMBEDDED_CLOCK", default=False)

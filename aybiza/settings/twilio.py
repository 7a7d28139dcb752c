"""Twilio: webhook/handshake signatures, REST credentials and the public origin Twilio calls."""

from .env import env

# The embedded default signs with this documented development token; prod refuses it.
DEV_TWILIO_AUTH_TOKEN = "aybiza-dev-twilio-token"
TWILIO_AUTH_TOKEN: str = env("TWILIO_AUTH_TOKEN", default=DEV_TWILIO_AUTH_TOKEN)
TWILIO_ACCOUNT_SID: str = env("TWILIO_ACCOUNT_SID", default="")
# REST base URL override, for local fakes of the Twilio API in tests.
TWILIO_API_BASE_URL: str = env("TWILIO_API_BASE_URL", default="")
# The exact origin Twilio was given (webhook URLs are signed over it, never over a rebuilt URL).
PUBLIC_BASE_URL: str = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Lifetime of the signed token that binds a media stream to its call.
STREAM_TOKEN_MAX_AGE_S: int = env.int("STREAM_TOKEN_MAX_AGE_S", default=120)
# A call still open this long after it started cannot be live (agents end calls within
# max_call_seconds, at most 4 h): the reconcile job (calls.reconcile_statuses) closes it.
CALL_STALE_AFTER_S: int = env.int("CALL_STALE_AFTER_S", default=5 * 3600)
# Raw call events (barge-ins, DTMF, errors...) are deleted after this many days; the hourly
# rollups that dashboards read (calls.rollups) are kept for ROLLUP_RETENTION_DAYS.
CALL_EVENT_RETENTION_DAYS: int = env.int("CALL_EVENT_RETENTION_DAYS", default=30)
ROLLUP_RETENTION_DAYS: int = env.int("ROLLUP_RETENTION_DAYS", default=400)

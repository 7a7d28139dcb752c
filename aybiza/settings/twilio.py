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

# Outbound calls and campaigns (calls/outbound.py, calls/dialer.py).
# How long a callee's phone rings before Twilio gives up (no-answer).
OUTBOUND_RING_TIMEOUT_S: int = env.int("OUTBOUND_RING_TIMEOUT_S", default=30)
# A dial claimed this long ago without a word from Twilio is released and dialled again.
OUTBOUND_DIAL_LEASE_S: int = env.int("OUTBOUND_DIAL_LEASE_S", default=60)
# Calls per second from one number for single API calls (campaigns set their own).
OUTBOUND_CALLS_PER_SECOND: float = env.float("OUTBOUND_CALLS_PER_SECOND", default=1.0)
# Per tenant, across its numbers and campaigns: Twilio's account limit is the ceiling.
OUTBOUND_CALLS_PER_SECOND_PER_TENANT: float = env.float(
    "OUTBOUND_CALLS_PER_SECOND_PER_TENANT", default=5.0)
OUTBOUND_MAX_CONCURRENT_PER_TENANT: int = env.int("OUTBOUND_MAX_CONCURRENT_PER_TENANT",
                                                  default=100)
# Longest a dialer tick spends waiting for its pace before leaving calls to the next tick.
DIALER_TICK_BUDGET_S: float = env.float("DIALER_TICK_BUDGET_S", default=4.0)
# With tasks in-process (the embedded default, no beat), a server thread ticks the dialer
# while campaigns run (calls/dialer_clock.py). Tests tick by hand.
DIALER_EMBEDDED_CLOCK: bool = env.bool("DIALER_EMBEDDED_CLOCK", default=True)

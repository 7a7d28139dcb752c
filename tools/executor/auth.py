"""Authentication headers for HTTP tools, built from the tool's unsealed secrets.

HMAC-SHA256: `X-Aybiza-Timestamp: <unix seconds>` and
`X-Aybiza-Signature: <hex HMAC-SHA256 of f"{timestamp}.{body}" keyed with the secret>`,
so a receiver can check both the body and its freshness (see `hmac_signature_valid`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from tools.models import AUTH_SECRET_NAMES, AuthType

TIMESTAMP_HEADER = "X-Aybiza-Timestamp"
SIGNATURE_HEADER = "X-Aybiza-Signature"
DEFAULT_HMAC_TOLERANCE_S = 300


class MissingSecret(ValueError):
    """The tool's auth needs a secret that was never set."""


def auth_headers(
    *, auth_type: str, header_name: str, secrets: dict[str, str], body: bytes
) -> dict[str, str]:
    """The headers that authenticate one request (dropped on a redirect to another origin)."""
    missing = [name for name in AUTH_SECRET_NAMES.get(auth_type, ()) if not secrets.get(name)]
    if missing:
        raise MissingSecret(f"The tool's {auth_type} auth needs the secret(s): "
                            f"{', '.join(missing)}.")
    if auth_type == AuthType.BEARER:
        return {"Authorization": f"Bearer {secrets['token']}"}
    if auth_type == AuthType.BASIC:
        pair = f"{secrets['username']}:{secrets['password']}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
    if auth_type == AuthType.API_KEY_HEADER:
        return {header_name: secrets["api_key"]}
    if auth_type == AuthType.HMAC_SHA256:
        timestamp = str(int(time.time()))
        return {TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: hmac_signature(secrets["hmac_secret"], timestamp, body)}
    return {}


def hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def hmac_signature_valid(
    *, secret: str, timestamp: str, body: bytes, signature: str,
    tolerance_s: int = DEFAULT_HMAC_TOLERANCE_S, now: float | None = None,
) -> bool:
    """For receivers of AYBIZA tool calls: the signature matches and the timestamp is fresh."""
    if not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(hmac_signature(secret, timestamp, body), signature)

"""The audit chain's hash: SHA-256 over a canonical JSON of an event's content and prev_hash."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
HASH_VERSION = 1


def canonical_json(value: Any) -> str:
    """One byte-exact JSON form per value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *, chain: str, seq: int, tenant_id: int | None, action: str, actor: str, target_type: str,
    target_id: str, target_repr: str, payload: Any, at: datetime, prev_hash: str,
) -> str:
    content = {
        "v": HASH_VERSION, "chain": chain, "seq": seq, "tenant": tenant_id, "action": action,
        "actor": actor, "target": [target_type, target_id, target_repr], "payload": payload,
        "at": canonical_time(at), "prev": prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


# The columns `event_hash` covers, in the order verification reads them.
HASHED_FIELDS = ("chain", "seq", "tenant_id", "action", "actor", "target_type", "target_id",
                 "target_repr", "payload", "at", "prev_hash")

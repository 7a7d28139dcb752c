"""PII redaction for transcripts and logs: `redact(text) -> RedactionResult(text, findings)`."""

from compliance.redaction.redact import TOKENS, Finding, RedactionResult, redact

__all__ = ["TOKENS", "Finding", "RedactionResult", "redact"]

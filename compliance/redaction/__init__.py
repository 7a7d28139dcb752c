"""PII redaction for transcripts and logs: `redact(text) -> RedactionResult(text, findings)`."""

from compliance.redaction.redact import TOKENS, Finding, RedactionResult, redact

__all__ = ["TOKENS", "Finding", "RedactionResult", "redact", "warm_up"]


def warm_up() -> None:
    """Load the name tables and the address CRF now (0.1-0.4 s, ~30 MB).

    Loading them holds the GIL for up to a few hundred ms: done lazily, the first turn stored
    in a process would stall every call's audio in it. AppConfig.ready() calls this at start.
    """
    from compliance.redaction.addresses import load_parser
    from compliance.redaction.names import gazetteer

    gazetteer()
    load_parser()

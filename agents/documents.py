"""Knowledge documents: an uploaded text, Markdown or PDF file becomes searchable passages.

The upload is untrusted: its size, its page count and the text it yields are bounded, a PDF that
pypdf cannot read (corrupt, encrypted, pure images) is refused with the reason, and the document
and its chunks are written in one transaction — a refused or failed upload leaves nothing.
Chunks are a few paragraphs under the nearest Markdown heading; `knowledge_search` finds them.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.db import transaction

from agents.models import Agent, DocumentKind, KnowledgeChunk, KnowledgeDocument
from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from aybiza.core.text import sentences, storable
from compliance.services import audit_record

logger = logging.getLogger(__name__)

CHUNK_CHARS = 900  # about 200 words: one idea, short enough to put several into a prompt
MAX_PDF_PAGES = 1000
MAX_CHUNKS = 20_000  # per document (~18 MB of text): beyond that it is not one document
EXTENSIONS = {".txt": DocumentKind.TEXT, ".text": DocumentKind.TEXT,
              ".md": DocumentKind.MARKDOWN, ".markdown": DocumentKind.MARKDOWN,
              ".pdf": DocumentKind.PDF}
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Piece:
    heading: str
    text: str


def document_add(*, tenant: Tenant, agent: Agent, filename: str, data: bytes,
                 title: str = "", actor=None) -> KnowledgeDocument:
    """Store a document for `agent`: its text cut into chunks. ApplicationError (400) with the
    reason when the file is too large, of an unknown kind, unreadable, or holds no text."""
    ensure_owned(tenant, agent)
    limit = settings.KNOWLEDGE_DOCUMENT_MAX_BYTES
    if len(data) > limit:
        raise _refused(f"The file is {len(data) // 1_000_000} MB; documents may be at most "
                       f"{limit // 1_000_000} MB.", code="too_large")
    kind = document_kind(filename, data)
    text = extract_text(kind, data)
    pieces = chunk(text, markdown=kind == DocumentKind.MARKDOWN)
    if not pieces:
        raise _refused("The document holds no text to answer from (a scanned PDF needs its "
                       "text recognised first).", code="empty")
    if len(pieces) > MAX_CHUNKS:
        raise _refused("The document is too long: split it into several.", code="too_large")
    title = (title or PurePath(filename).stem or "Document").strip()[:200]
    with transaction.atomic():
        document = KnowledgeDocument.objects.create(
            tenant=tenant, agent=agent, title=storable(title), kind=kind, size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(), chunk_count=len(pieces))
        KnowledgeChunk.objects.bulk_create(
            [KnowledgeChunk(tenant=tenant, document=document, index=i,
                            heading=piece.heading[:300], text=piece.text)
             for i, piece in enumerate(pieces)], batch_size=500)
        audit_record(tenant=tenant, actor=actor, action="knowledge_document.added",
                     target=document, payload={"agent": agent.pk, "kind": kind,
                                               "chunks": len(pieces), "bytes": len(data)})
    return document


def document_delete(*, tenant: Tenant, document: KnowledgeDocument, actor=None) -> None:
    ensure_owned(tenant, document)
    with transaction.atomic():
        audit_record(tenant=tenant, actor=actor, action="knowledge_document.deleted",
                     target=document, payload={"agent": document.agent_id})
        document.delete()


def document_kind(filename: str, data: bytes) -> str:
    if data.startswith(b"%PDF-"):
        return DocumentKind.PDF
    kind = EXTENSIONS.get(PurePath(filename or "").suffix.lower())
    if kind is None:
        raise _refused("Upload a text (.txt), Markdown (.md) or PDF (.pdf) file.",
                       code="unsupported_type")
    if kind == DocumentKind.PDF:  # named .pdf without a PDF's first bytes
        raise _refused("This is not a PDF file (it does not start like one).",
                       code="unreadable")
    return kind


def extract_text(kind: str, data: bytes) -> str:
    if kind == DocumentKind.PDF:
        return _pdf_text(data)
    try:
        return storable(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise _refused("The file is not UTF-8 text.", code="unreadable") from None


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise _refused("The PDF is encrypted: upload it without a password.",
                           code="unreadable")
        if len(reader.pages) > MAX_PDF_PAGES:
            raise _refused(f"The PDF has {len(reader.pages)} pages; at most {MAX_PDF_PAGES}.",
                           code="too_large")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ApplicationError:
        raise
    except (PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            RecursionError, OSError) as exc:  # what a malformed file makes pypdf raise
        logger.info("Unreadable PDF upload: %s", type(exc).__name__)
        raise _refused("The PDF could not be read (it may be damaged).",
                       code="unreadable") from None
    return storable("\n\n".join(pages))


def chunk(text: str, *, markdown: bool = False) -> list[Piece]:
    """Passages of at most about CHUNK_CHARS characters: paragraphs kept whole where they fit,
    each passage under the last Markdown heading above it."""
    pieces: list[Piece] = []
    heading = ""
    buffer: list[str] = []

    def flush() -> None:
        joined = "\n\n".join(buffer).strip()
        if joined:
            pieces.append(Piece(heading, joined))
        buffer.clear()

    for paragraph in _paragraphs(text):
        match = HEADING.match(paragraph) if markdown else None
        if match:
            flush()
            heading = match.group(2).strip()
            continue
        for part in _fit(paragraph):
            if buffer and sum(len(b) + 2 for b in buffer) + len(part) > CHUNK_CHARS:
                flush()
            buffer.append(part)
    flush()
    return pieces


def _paragraphs(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        if not line.strip() or HEADING.match(line):
            if current:
                paragraphs.append(" ".join(current))
                current = []
            if line.strip():
                paragraphs.append(line.strip())
            continue
        current.append(" ".join(line.split()))
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs


def _fit(paragraph: str) -> list[str]:
    """A paragraph longer than a chunk, cut at sentence ends (or hard, for run-on text)."""
    if len(paragraph) <= CHUNK_CHARS:
        return [paragraph]
    parts: list[str] = []
    current = ""
    for sentence in sentences(paragraph):
        while len(sentence) > CHUNK_CHARS:
            if current:
                parts.append(current)
                current = ""
            parts.append(sentence[:CHUNK_CHARS])
            sentence = sentence[CHUNK_CHARS:]
        if current and len(current) + 1 + len(sentence) > CHUNK_CHARS:
            parts.append(current)
            current = ""
        current = f"{current} {sentence}".strip()
    if current:
        parts.append(current)
    return parts


def _refused(message: str, *, code: str) -> ApplicationError:
    return ApplicationError(message, code=code, extra={"field": "file"})

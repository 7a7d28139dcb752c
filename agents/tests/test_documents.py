"""Knowledge documents: uploads of text, Markdown and PDF become passages that the search a call
runs per turn finds; bad uploads are refused with the reason and leave nothing behind."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.documents import CHUNK_CHARS, chunk, document_add
from agents.knowledge_search import knowledge_search, search_terms
from agents.models import KnowledgeChunk, KnowledgeDocument
from agents.tests.pdfs import text_pdf
from aybiza.core.errors import ApplicationError, NotFound

HANDBOOK = b"""# Parking

Free parking is behind the clinic, entrance on Elm Street. Spaces for wheelchairs are by the door.

# Insurance

We accept Delta Dental, Cigna and Aetna plans. Bring your insurance card to the first visit.

# Children

Children are seen from the age of two; a parent stays in the room.
"""


def _ids(agent) -> list[int]:
    return list(agent.documents.values_list("id", flat=True))


def test_a_markdown_document_is_cut_under_its_headings_and_found_by_a_callers_words(
        tenant, agent):
    document = document_add(tenant=tenant, agent=agent, filename="handbook.md", data=HANDBOOK)

    assert (document.kind, document.title, document.chunk_count) == ("markdown", "handbook", 3)
    assert [c.heading for c in document.chunks.all()] == ["Parking", "Insurance", "Children"]
    # a caller's question, in their words, not the document's
    best = knowledge_search(tenant_id=tenant.pk, document_ids=_ids(agent),
                            query="Um, do you take Cigna insurance?")
    assert best[0].heading == "Insurance" and "Cigna" in best[0].text
    assert best[0].document == "handbook"
    parking = knowledge_search(tenant_id=tenant.pk, document_ids=_ids(agent),
                               query="where can I park my car")
    assert parking[0].heading == "Parking"  # "park" finds "parking": the words are stemmed


def test_search_never_reaches_another_tenants_or_another_documents_passages(
        tenant, agent, other_tenant):
    from agents.services import agent_create

    theirs = agent_create(tenant=other_tenant, name="Theirs")
    their_document = document_add(tenant=other_tenant, agent=theirs, filename="a.md",
                                  data=b"Cigna insurance accepted.")
    mine = document_add(tenant=tenant, agent=agent, filename="b.md", data=HANDBOOK)

    assert knowledge_search(tenant_id=tenant.pk, document_ids=[their_document.pk],
                            query="cigna insurance") == []
    assert knowledge_search(tenant_id=other_tenant.pk, document_ids=[mine.pk],
                            query="cigna insurance") == []


@pytest.mark.parametrize("query", ['" OR * NEAR(', "AND OR NOT", "insurance' OR 1=1 --",
                                   "🦷🦷", "", "the and of"])
def test_a_callers_words_are_never_search_syntax(tenant, agent, query):
    document_add(tenant=tenant, agent=agent, filename="b.md", data=HANDBOOK)
    # no error, whatever the caller said; operators and punctuation are just dropped
    results = knowledge_search(tenant_id=tenant.pk, document_ids=_ids(agent), query=query)
    assert all(result.text for result in results)
    assert search_terms('insurance" OR cigna*') == ["insurance", "cigna"]


def test_a_pdfs_text_is_extracted_page_by_page(tenant, agent):
    data = text_pdf([["Emergency line", "Call 555 0100 after hours for a dental emergency."],
                     ["Whitening costs 300 dollars per session."]])
    document = document_add(tenant=tenant, agent=agent, filename="Price list.pdf", data=data)

    assert (document.kind, document.title) == ("pdf", "Price list")
    found = knowledge_search(tenant_id=tenant.pk, document_ids=[document.pk],
                             query="how much is whitening")
    assert "300 dollars" in found[0].text


def test_long_text_is_cut_at_sentences_into_passages_that_fit():
    sentence = "The clinic opens at nine and closes at five on weekdays. "
    pieces = chunk(sentence * 60)
    assert len(pieces) > 1
    assert all(len(piece.text) <= CHUNK_CHARS for piece in pieces)
    assert all(piece.text.endswith("weekdays.") for piece in pieces)
    # run-on text without sentence ends is still cut
    assert all(len(p.text) <= CHUNK_CHARS for p in chunk("x" * (3 * CHUNK_CHARS)))


@pytest.mark.parametrize(("filename", "data", "code"), [
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 9 0 R >> garbage", "unreadable"),
    ("fake.pdf", b"just text with a pdf name", "unreadable"),
    ("image.png", b"\x89PNG\r\n\x1a\n....", "unsupported_type"),
    ("latin1.txt", "caf\xe9".encode("latin-1"), "unreadable"),
    ("empty.md", b"   \n\n  ", "empty"),
    ("scan.pdf", text_pdf([[]]), "empty"),
])
def test_bad_documents_are_refused_with_the_reason_and_nothing_is_written(
        tenant, agent, filename, data, code):
    with pytest.raises(ApplicationError) as refused:
        document_add(tenant=tenant, agent=agent, filename=filename, data=data)
    assert refused.value.code == code and refused.value.status_code == 400
    assert not KnowledgeDocument.objects.exists() and not KnowledgeChunk.objects.exists()


def test_a_document_over_the_size_limit_is_refused(tenant, agent, settings):
    settings.KNOWLEDGE_DOCUMENT_MAX_BYTES = 1000
    with pytest.raises(ApplicationError) as refused:
        document_add(tenant=tenant, agent=agent, filename="big.txt", data=b"word " * 300)
    assert refused.value.code == "too_large"


def test_another_tenants_agent_cannot_be_given_a_document(tenant, other_tenant, agent):
    with pytest.raises(NotFound):
        document_add(tenant=other_tenant, agent=agent, filename="a.md", data=b"text")


# --- the API -----------------------------------------------------------------------------------

def test_upload_list_search_and_delete_through_the_api(tenant, agent, api_client_for):
    client = api_client_for(tenant)
    url = reverse("agent-documents", kwargs={"pk": agent.pk})
    pdf = SimpleUploadedFile("prices.pdf", text_pdf([["Whitening costs 300 dollars."]]),
                             content_type="application/pdf")

    uploaded = client.post(url, {"file": pdf, "title": "Prices"}, format="multipart")
    assert uploaded.status_code == 201, uploaded.json()
    assert uploaded.json()["title"] == "Prices" and uploaded.json()["chunk_count"] == 1
    as_json = client.post(url, {"filename": "handbook.md", "content": HANDBOOK.decode()},
                          format="json")
    assert as_json.status_code == 201 and as_json.json()["kind"] == "markdown"
    assert client.get(url).json()["count"] == 2

    search = client.get(reverse("agent-knowledge-search", kwargs={"pk": agent.pk}),
                        {"q": "Do you take Aetna?"})
    assert search.status_code == 200 and search.json()[0]["heading"] == "Insurance"

    document_id = uploaded.json()["id"]
    detail = reverse("knowledge-document-detail", kwargs={"pk": document_id})
    assert client.delete(detail).status_code == 204
    assert client.get(detail).status_code == 404
    assert not KnowledgeChunk.objects.filter(document_id=document_id).exists()


def test_bad_uploads_get_a_clear_400(tenant, agent, api_client_for, settings):
    client = api_client_for(tenant)
    url = reverse("agent-documents", kwargs={"pk": agent.pk})
    settings.KNOWLEDGE_DOCUMENT_MAX_BYTES = 50_000
    big = SimpleUploadedFile("big.txt", b"a" * 60_000)
    too_big = client.post(url, {"file": big}, format="multipart")
    assert too_big.status_code == 400 and "at most" in str(too_big.json())
    corrupt = SimpleUploadedFile("x.pdf", b"%PDF-1.7\n%%%% not really")
    refused = client.post(url, {"file": corrupt}, format="multipart")
    assert refused.status_code == 400 and "could not be read" in str(refused.json())
    assert client.post(url, {}, format="json").status_code == 400
    search = reverse("agent-knowledge-search", kwargs={"pk": agent.pk})
    assert client.get(search).status_code == 400
    assert not KnowledgeDocument.objects.exists()


@pytest.mark.integration
def test_the_search_benchmark_runs_on_the_embedded_sqlite_with_fts5(tmp_path):
    # The suite runs on PostgreSQL under `make test`: the embedded default's FTS5 index is
    # proven here, on a fresh SQLite file as `make demo` makes it.
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aybiza.settings.dev",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": ""}
    for command in (["migrate", "-v0"], ["bench_knowledge", "--chunks", "600", "--queries",
                                         "40", "--json"]):
        done = subprocess.run([sys.executable, "manage.py", *command], cwd=root, env=env,
                              capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["database"] == "sqlite" and report["answered"] >= 30
    assert report["p95_ms"] < 200  # a sanity bound; the figures are make bench's (docs)

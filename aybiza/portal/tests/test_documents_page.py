"""The agent's documents page: upload, see the passages, try a question, delete."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import KnowledgeDocument
from agents.tests.pdfs import text_pdf


def test_upload_try_and_delete_a_document(owner_client, agent):
    url = reverse("portal:agent-documents", args=[agent.pk])
    assert "No documents yet" in owner_client.get(url).content.decode()

    pdf = SimpleUploadedFile("Prices.pdf", text_pdf([["Whitening costs 300 dollars."]]))
    added = owner_client.post(url, {"file": pdf, "title": ""}, follow=True)
    page = added.content.decode()
    assert "Added “Prices”: 1 passage." in page and "<strong>Prices</strong>" in page

    tried = owner_client.get(url, {"q": "how much is whitening"}).content.decode()
    assert "Whitening costs 300 dollars." in tried

    document = KnowledgeDocument.objects.get()
    deleted = owner_client.post(reverse("portal:agent-document-delete",
                                        args=[agent.pk, document.pk]), follow=True)
    assert "Deleted “Prices”." in deleted.content.decode()
    assert not KnowledgeDocument.objects.exists()


def test_a_bad_file_is_refused_at_the_field(owner_client, agent):
    url = reverse("portal:agent-documents", args=[agent.pk])
    broken = SimpleUploadedFile("scan.pdf", b"%PDF-1.4 broken")
    response = owner_client.post(url, {"file": broken})
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert not KnowledgeDocument.objects.exists()

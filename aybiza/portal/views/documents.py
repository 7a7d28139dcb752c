"""An agent's knowledge documents: upload (text, Markdown, PDF), list, delete, and try the search
a call runs per caller turn."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.documents import document_add, document_delete
from agents.knowledge_search import knowledge_search
from agents.selectors import agent_get, document_get, document_list
from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view


class DocumentUploadForm(forms.Form):
    file = forms.FileField(label="Document", help_text="Text (.txt), Markdown (.md) or PDF.")
    title = forms.CharField(max_length=200, required=False,
                            help_text="Optional: the file's name is used without one.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.KNOWLEDGE_DOCUMENT_MAX_BYTES
        if upload.size > limit:  # refused before it is read into memory
            raise forms.ValidationError(f"The file is {upload.size // 1_000_000} MB; documents "
                                        f"may be at most {limit // 1_000_000} MB.")
        return upload


@portal_view()
def agent_documents(request, pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    form = DocumentUploadForm()
    if request.method == "POST":
        form = DocumentUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                document = document_add(tenant=tenant, agent=agent, filename=upload.name,
                                        data=upload.read(), title=form.cleaned_data["title"],
                                        actor=request.user)
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                messages.success(request, f"Added “{document.title}”: {document.chunk_count} "
                                          f"passage{'s' if document.chunk_count != 1 else ''}. "
                                          "Publish the agent for callers to hear it.")
                return redirect("portal:agent-documents", pk=agent.pk)
    documents = list(document_list(tenant=tenant, agent=agent).order_by("-created_at", "-id"))
    question = request.GET.get("q", "").strip()[:500]
    passages = knowledge_search(tenant_id=tenant.pk, document_ids=[d.pk for d in documents],
                                query=question) if question else None
    return render(request, "portal/agents/documents.html", {
        "agent": agent, "form": form, "documents": documents, "question": question,
        "passages": passages}, status=400 if form.errors else 200)


@require_POST
@portal_view()
def agent_document_delete(request, pk: int, document_pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    document = document_get(tenant=tenant, pk=document_pk, agent=agent)
    document_delete(tenant=tenant, document=document, actor=request.user)
    messages.success(request, f"Deleted “{document.title}”.")
    return redirect("portal:agent-documents", pk=agent.pk)

"""Contacts over the API: who called, what is remembered about them, and the opt-out.

Reading a contact returns personal data in clear (name, number, facts): every read of one is
audited, like a transcript.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from aybiza.core.api import TenantViewSetMixin
from aybiza.core.errors import NotFound
from compliance.selectors import normalize_phone
from compliance.services import audit_record
from memory.models import Contact
from memory.selectors import contact_facts, contact_get, contact_list, contact_name, contact_phone
from memory.services import (
    MAX_NAME_CHARS,
    contact_do_not_call_set,
    contact_update,
    memory_forget,
)


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "call_count", "first_seen_at", "last_seen_at", "do_not_remember",
                  "do_not_call"]
        read_only_fields = fields


class ContactDetailSerializer(ContactSerializer):
    name = serializers.SerializerMethodField()
    phone_number = serializers.SerializerMethodField()
    facts = serializers.SerializerMethodField(help_text="What the agent remembers (key → value).")

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "name", "phone_number", "facts"]
        read_only_fields = fields

    def get_name(self, contact: Contact) -> str:
        return contact_name(contact)

    def get_phone_number(self, contact: Contact) -> str:
        return contact_phone(contact)

    def get_facts(self, contact: Contact) -> dict[str, str]:
        return contact_facts(contact)


class ContactWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_NAME_CHARS, allow_blank=True, required=False)
    do_not_remember = serializers.BooleanField(required=False)


class ContactViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's callers (one per number). PATCH sets a name or `do_not_remember` (which
    forgets everything at once); DELETE forgets the facts and the name but keeps the contact."""

    serializer_class = ContactSerializer
    schema_model = Contact

    def list(self, request):
        return self.paginated_response(contact_list(tenant=self.tenant), ContactSerializer)

    @extend_schema(responses=ContactDetailSerializer)
    def retrieve(self, request, pk=None):
        contact = contact_get(tenant=self.tenant, pk=pk)
        audit_record(action="contact.read", tenant=self.tenant, target=contact,
                     actor=self.actor())
        return Response(ContactDetailSerializer(contact).data)

    @extend_schema(request=ContactWriteSerializer, responses=ContactDetailSerializer)
    def partial_update(self, request, pk=None):
        contact = contact_get(tenant=self.tenant, pk=pk)
        payload = ContactWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        contact_update(tenant=self.tenant, contact=contact, actor=self.actor(),
                       **payload.validated_data)
        return Response(ContactDetailSerializer(contact).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        contact = contact_get(tenant=self.tenant, pk=pk)
        memory_forget(tenant=self.tenant, contact=contact, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


class DoNotCallEntrySerializer(serializers.ModelSerializer):
    phone_number = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = ["id", "phone_number", "do_not_call_since"]
        read_only_fields = fields

    def get_phone_number(self, contact: Contact) -> str:
        return contact_phone(contact)


class DoNotCallAddSerializer(serializers.Serializer):
    phone_number = serializers.CharField(max_length=32, help_text="E.164, e.g. +15550100000.")


class DoNotCallViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's do-not-call list: no outbound call or campaign dials these numbers (checked
    when each call is placed). POST adds a number; DELETE takes one off (audited)."""

    serializer_class = DoNotCallEntrySerializer
    schema_model = Contact

    def list(self, request):
        return self.paginated_response(
            contact_list(tenant=self.tenant).filter(do_not_call=True), DoNotCallEntrySerializer)

    @extend_schema(request=DoNotCallAddSerializer, responses={201: DoNotCallEntrySerializer})
    def create(self, request):
        payload = DoNotCallAddSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        e164 = normalize_phone(payload.validated_data["phone_number"])
        contact = contact_do_not_call_set(tenant=self.tenant, e164=e164, do_not_call=True,
                                          actor=self.actor())
        return Response(DoNotCallEntrySerializer(contact).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        contact = contact_get(tenant=self.tenant, pk=pk)
        if not contact.do_not_call:
            raise NotFound("The number is not on the do-not-call list.")
        contact_do_not_call_set(tenant=self.tenant, e164=contact_phone(contact),
                                do_not_call=False, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

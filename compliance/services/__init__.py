"""Compliance writes. Other apps import from here: `audit_record`, `security_event`, ..."""

from compliance.services.audit import audit_record, describe_actor, security_event
from compliance.services.consent import consent_record
from compliance.services.retention import retention_enforce, retention_policy_set
from compliance.services.subjects import register_subject_data, subject_erase, subject_export

__all__ = [
    "audit_record", "consent_record", "describe_actor", "register_subject_data",
    "retention_enforce", "retention_policy_set", "security_event", "subject_erase",
    "subject_export",
]

"""Recordings on S3 with SSE-KMS: every object under the KMS key of the tenant it belongs to.

Named in settings.STORAGES["recordings"] when RECORDINGS_S3_BUCKET is set; only those
deployments import django-storages and boto3 for it.
"""

from __future__ import annotations

from storages.backends.s3 import S3Storage

from calls.recording_storage import TENANT_IN_NAME
from compliance.recording_keys import recording_key_arn


class TenantKeyS3Storage(S3Storage):
    encrypts_per_tenant = True  # so recordings are not also sealed by us (is_sealed_by_us)

    def __init__(self, **options) -> None:
        options.setdefault("default_acl", None)
        options.setdefault("file_overwrite", False)
        options.setdefault("signature_version", "s3v4")  # SSE-KMS objects need SigV4 links
        options.setdefault("querystring_auth", True)
        super().__init__(**options)

    def get_object_parameters(self, name: str) -> dict:
        match = TENANT_IN_NAME.match(name)
        if match is None:  # never write a recording without its tenant's key
            raise ValueError(f"Not a tenant's recording name: {name!r}")
        return {**super().get_object_parameters(name),
                "ServerSideEncryption": "aws:kms",
                "SSEKMSKeyId": recording_key_arn(int(match.group(1))),
                "ContentType": "audio/wav"}

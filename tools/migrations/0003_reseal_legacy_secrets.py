"""Re-seal secrets of the early local scheme (`f1:`) with the compliance envelope encryption.

Before `compliance.crypto` existed, tools/secrets.py sealed secrets with a Fernet key derived from
SECRET_KEY per tenant (HKDF-SHA256, salt "aybiza.tools.secrets", info "tenant:<pk>"). That scheme
is gone from the product; this migration carries its reader once, for what a database still holds.
A value that no longer opens (SECRET_KEY changed since) is left as it is and reported.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import migrations

LEGACY_PREFIX = "f1:"
SEALED_PREFIX = "c1:b:"
# (app, model, the context tools/secrets.py seals each row's secrets with)
SEALED_COLUMNS = (
    ("tools", "Tool", lambda row: "tools.tool-secrets"),
    ("agents", "ProviderCredential", lambda row: f"provider-credentials:{row.provider}"),
)


def _legacy_fernet(tenant_id: int) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"aybiza.tools.secrets",
               info=f"tenant:{tenant_id}".encode()).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def reseal(apps, schema_editor) -> None:
    # The live models: compliance.crypto looks up the tenant's data keys through them.
    from aybiza.core.models import Tenant
    from compliance.crypto import encrypt_for_tenant

    for app_label, model_name, context_of in SEALED_COLUMNS:
        model = apps.get_model(app_label, model_name)
        for row in model.objects.filter(secrets_sealed__startswith=LEGACY_PREFIX):
            try:
                plaintext = _legacy_fernet(row.tenant_id).decrypt(
                    row.secrets_sealed[len(LEGACY_PREFIX):].encode("ascii"))
            except InvalidToken:
                print(f"  {model_name} {row.pk}: f1: secrets do not open with this SECRET_KEY; "
                      "left as they are, set them again")
                continue
            tenant = Tenant.objects.get(pk=row.tenant_id)
            blob = encrypt_for_tenant(tenant, plaintext, context=context_of(row))
            row.secrets_sealed = SEALED_PREFIX + base64.b64encode(blob).decode("ascii")
            row.save(update_fields=["secrets_sealed"])


class Migration(migrations.Migration):
    dependencies = [
        ("tools", "0002_secure_capture_sealed_arguments"),
        ("agents", "0004_providercredential"),
        ("compliance", "0002_retention_schedule"),
    ]

    operations = [migrations.RunPython(reseal, migrations.RunPython.noop)]

"""Deleting recording files once the rows that point to them are gone."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.files.storage import Storage
from django.db import transaction

logger = logging.getLogger(__name__)


def delete_files_on_commit(storage: Storage, names: Iterable[str]) -> None:
    """Delete the files after the transaction commits: a rollback keeps rows and files."""
    names = [name for name in names if name]
    if not names:
        return

    def delete() -> None:
        for name in names:
            try:
                storage.delete(name)
            except OSError:  # one unreadable file must not keep the others
                logger.exception("Could not delete a stored file")

    transaction.on_commit(delete)

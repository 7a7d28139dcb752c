"""AYBIZA: AI voice agents on phone numbers."""

# Importing the Celery app here binds @shared_task to it in every process (Celery's Django docs).
from aybiza.celery import app as celery_app

__all__ = ["celery_app"]

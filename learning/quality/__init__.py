"""Conversation quality of the offline agent, measured on evaluation sets the project ships
(`sets/<agent>.txt`, one per demo agent): intents, slots and answers on text (`text.py`), and
recognition of the same utterances spoken by two voices over a phone line with and without noise
(`speech.py`). `manage.py quality` runs them; `make eval` is the documented entry point."""

"""Settings package: `base` holds everything; `dev`, `test` and `prod` adjust it.

Each integration (celery, channels, twilio, deepgram, bedrock) has its own small module whose
values come from the environment through the one reader in `env.py`.
"""

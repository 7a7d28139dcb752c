"""After the call: post-call analysis (learning/) and the callers' memory (memory/)."""

from .env import env

# Analyse every call when it ends (summary, success, extracted fields; fed into memory): a
# Celery task on the default queue, a background thread in the embedded default.
POST_CALL_ANALYSIS: bool = env.bool("POST_CALL_ANALYSIS", default=True)

"""After the call: post-call analysis (learning/) and the callers' memory (memory/)."""

from .env import env

# Analyse every call when it ends (summary, success, extracted fields; fed into memory): a
# Celery task on the default queue, a background thread in the embedded default.
POST_CALL_ANALYSIS: bool = env.bool("POST_CALL_ANALYSIS", default=True)

# Knowledge documents (agents/documents.py): the largest file a tenant may upload. Requests with a
# larger file are refused before it is read.
KNOWLEDGE_DOCUMENT_MAX_BYTES: int = env.int("KNOWLEDGE_DOCUMENT_MAX_BYTES",
                                            default=10 * 1024 * 1024)
# How long a caller's search for passages of the agent's documents may hold up an answer (ms);
# past it the agent answers without them.
KNOWLEDGE_SEARCH_BUDGET_MS: int = env.int("KNOWLEDGE_SEARCH_BUDGET_MS", default=150)

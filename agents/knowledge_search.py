"""Full-text search of an agent's knowledge documents, run once per caller turn.

PostgreSQL: a stored tsvector (headings weighted above text) with a GIN index, ranked by
`ts_rank_cd`. SQLite (the embedded default): an FTS5 index with the porter stemmer, ranked by
bm25 with the heading weighted the same way. Both are created by migration 0008 and queried with
raw SQL here, the only place that knows them. The caller's words become an OR of their content
words (quoted, never FTS syntax: a caller cannot write a query), so a conversational question
still finds the passage that shares its important words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.db import connection, transaction

MAX_TERMS = 16
WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
# Words that carry no topic in a caller's question; stemming keeps "open"/"opening" together.
STOP_WORDS = frozenset("""
a about after again all also am an and any are as at be because been before being both but by
can could did do does doing don't each every few for from get got had has have having he hello
her here hi him his how i i'd i'll i'm i've if in into is it it's its just know let like may me
might more most must my need no nor not now of off ok okay on one only or other our out own
please same shall should so some such tell than thank thanks that the their them then there
these they this those to too uh um up us very want was we well were what when where which who
why will with would yeah yes you you're your
""".split())  # noqa: SIM905 - a word list reads better as text


@dataclass(frozen=True)
class Passage:
    document: str  # the document's title
    heading: str
    text: str
    score: float


def search_terms(text: str) -> list[str]:
    """The caller's content words, lower-cased, in order, without repeats (at most MAX_TERMS)."""
    terms: list[str] = []
    for word in WORD.findall(text.lower()):
        if word in STOP_WORDS:
            continue
        word = word.replace("'", "")
        if len(word) < 2 or word in terms:
            continue
        terms.append(word)
        if len(terms) == MAX_TERMS:
            break
    return terms


def knowledge_search(*, tenant_id: int, document_ids: list[int], query: str,
                     limit: int = 3) -> list[Passage]:
    """The passages of these documents (of this tenant) that best match `query`, best first."""
    terms = search_terms(query)
    if not terms or not document_ids:
        return []
    vendor = connection.vendor
    if vendor == "postgresql":
        sql, params = _postgres(tenant_id, document_ids, terms, limit)
    elif vendor == "sqlite":
        sql, params = _sqlite(tenant_id, document_ids, terms, limit)
    else:  # pragma: no cover - the two databases we run on
        raise NotImplementedError(f"No knowledge search for {vendor}")
    with transaction.atomic(), connection.cursor() as cursor:
        if vendor == "postgresql":
            # The planner underestimates the GIN index for OR-queries of common words and scans
            # every passage instead (20+ ms at 10,000); the index path stays at a few ms.
            cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [Passage(document=title, heading=heading, text=text, score=float(score))
            for title, heading, text, score in rows]


def _postgres(tenant_id: int, document_ids: list[int], terms: list[str],
              limit: int) -> tuple[str, list]:
    # plainto_tsquery per word: each is parsed as plain text (no operators), then OR-ed. The
    # matches come from the GIN index first (MATERIALIZED: otherwise the planner may prefer the
    # document index and test every passage's tsvector), then are filtered and ranked.
    query = " || ".join(["plainto_tsquery('english', %s)"] * len(terms))
    sql = (
        f"WITH q AS (SELECT ({query}) AS query), "
        "hits AS MATERIALIZED (SELECT c.id, c.document_id, c.heading, c.text, "
        "ts_rank(c.search, q.query) AS score FROM agents_knowledgechunk c, q "
        "WHERE c.search @@ q.query AND c.tenant_id = %s) "
        "SELECT d.title, hits.heading, hits.text, hits.score FROM hits "
        "JOIN agents_knowledgedocument d ON d.id = hits.document_id "
        "WHERE hits.document_id = ANY(%s) ORDER BY hits.score DESC, hits.id LIMIT %s")
    return sql, [*terms, tenant_id, list(document_ids), limit]


def _sqlite(tenant_id: int, document_ids: list[int], terms: list[str],
            limit: int) -> tuple[str, list]:
    # Each term a quoted FTS5 string (quotes doubled): never read as query syntax.
    match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
    placeholders = ", ".join(["%s"] * len(document_ids))
    sql = (
        "SELECT d.title, c.heading, c.text, -bm25(agents_knowledgechunk_fts, 2.0, 1.0) AS score "
        "FROM agents_knowledgechunk_fts f "
        "JOIN agents_knowledgechunk c ON c.id = f.rowid "
        "JOIN agents_knowledgedocument d ON d.id = c.document_id "
        f"WHERE agents_knowledgechunk_fts MATCH %s AND c.tenant_id = %s "
        f"AND c.document_id IN ({placeholders}) "
        "ORDER BY bm25(agents_knowledgechunk_fts, 2.0, 1.0), c.id LIMIT %s")
    return sql, [match, tenant_id, *document_ids, limit]

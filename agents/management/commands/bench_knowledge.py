"""`manage.py bench_knowledge`: how fast a call's per-turn search of knowledge documents is.

Fills a throwaway tenant's agent with N passages of varied text (10,000 by default), runs
caller-like questions through `knowledge_search` on the configured database (SQLite FTS5 in the
embedded default, PostgreSQL full-text search in production) and prints p50 / p95 / max in ms;
`--json` prints one JSON line. The tenant and its rows are deleted afterwards. Target: p95 ≤ 20 ms
over 10,000 passages (figures in the README, "Knowledge documents")."""

from __future__ import annotations

import json
import random
import time

from django.core.management.base import BaseCommand
from django.db import connection

TOPICS = (
    "parking", "insurance", "whitening", "cleaning", "braces", "invoice", "refund", "delivery",
    "warranty", "router", "password", "printer", "laptop", "vpn", "email", "reservation", "table",
    "menu", "allergy", "vegan", "dessert", "birthday", "terrace", "wine", "gluten", "appointment",
    "crown", "filling", "xray", "emergency", "payment",
)
FILLER = (
    "the", "a", "our", "we", "you", "can", "will", "is", "are", "for", "with", "on", "at",
    "after", "before", "each", "every", "in", "to", "of", "and", "or", "if", "please", "also",
    "may", "not", "all", "when",
)


def _words(rng: random.Random, vocabulary: list[str], count: int) -> str:
    return " ".join(rng.choice(vocabulary if rng.random() < 0.6 else FILLER)
                    for _ in range(count))


class Command(BaseCommand):
    help = "Benchmark the per-turn knowledge-document search (p50/p95 in ms)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chunks", type=int, default=10_000)
        parser.add_argument("--queries", type=int, default=300)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, chunks: int, queries: int, json: bool, **options) -> None:
        from agents.knowledge_search import knowledge_search
        from agents.models import KnowledgeChunk, KnowledgeDocument
        from agents.services import agent_create
        from aybiza.core.services import tenant_create

        rng = random.Random(7)
        # A vocabulary like a business's documents: topic words and ~3,000 other words.
        vocabulary = list(TOPICS) + [f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}"
                               f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}"
                               f"{rng.choice('nrst')}{i}" for i in range(3000)]
        tenant = tenant_create(name=f"Knowledge bench {time.time_ns()}")
        try:
            agent = agent_create(tenant=tenant, name="Bench")
            per_document = 500
            for start in range(0, chunks, per_document):
                count = min(per_document, chunks - start)
                document = KnowledgeDocument.objects.create(
                    tenant=tenant, agent=agent, title=f"Manual {start // per_document + 1}",
                    kind="text", size_bytes=0, sha256="0" * 64, chunk_count=count)
                KnowledgeChunk.objects.bulk_create([
                    KnowledgeChunk(tenant=tenant, document=document, index=i,
                                   heading=_words(rng, TOPICS, 2),
                                   text=_words(rng, vocabulary, 140))
                    for i in range(count)], batch_size=1000)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    # What autovacuum leaves after an upload: statistics the planner trusts.
                    cursor.execute("VACUUM ANALYZE agents_knowledgechunk")
            ids = list(agent.documents.values_list("id", flat=True))
            questions = [
                f"um can you tell me about the {_words(rng, vocabulary, rng.randint(2, 5))}"
                for _ in range(queries)]
            for question in questions[:10]:  # warm caches and the connection
                knowledge_search(tenant_id=tenant.pk, document_ids=ids, query=question)
            timings, found = [], 0
            for question in questions:
                started = time.perf_counter()
                found += bool(knowledge_search(tenant_id=tenant.pk, document_ids=ids,
                                               query=question))
                timings.append((time.perf_counter() - started) * 1000)
        finally:
            tenant.delete()
        timings.sort()
        report = {"database": connection.vendor, "chunks": chunks, "queries": queries,
                  "answered": found, "p50_ms": round(timings[len(timings) // 2], 2),
                  "p95_ms": round(timings[int(0.95 * len(timings))], 2),
                  "max_ms": round(timings[-1], 2)}
        if json:
            self.stdout.write(_dumps(report))
            return
        self.stdout.write(
            f"{report['database']}: {chunks} passages, {queries} questions "
            f"({found} answered): p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, "
            f"max {report['max_ms']} ms (target p95 ≤ 20 ms)")


def _dumps(report: dict) -> str:
    return json.dumps(report)

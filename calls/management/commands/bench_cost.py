"""`manage.py bench_cost`: what a typical call costs, with prompt caching off and on.

Plays the typical calls of `calls.bench.cost` through Claude on Bedrock (the wire-level fake,
which bills each request as Bedrock does) and prices them with the `PRICE_*` settings. Prints a
table, or one JSON line with `--json`."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand

FAST_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


class Command(BaseCommand):
    help = "Cost per typical call (STT, LLM, TTS) with prompt caching off and on."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--model", default=settings.BEDROCK_MODEL_ID)
        parser.add_argument("--fast-model", default=FAST_MODEL,
                            help="The fast model of the routed run (automatic model selection).")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, model: str, fast_model: str, **options) -> None:
        from calls.bench.cost import cost_per_call

        rows = (cost_per_call(prompt_cache=False, model=model)
                + cost_per_call(prompt_cache=True, model=model)
                + cost_per_call(prompt_cache=True, model=model, warm=True)
                + cost_per_call(prompt_cache=True, model=model, warm=True,
                                fast_model=fast_model))
        if options["json"]:
            self.stdout.write(json.dumps({"model": model, "calls": rows}))
            return
        self.stdout.write(f"model {model}; prices from the PRICE_* settings")
        self.stdout.write(f"{'call':38} {'cache':6} {'min':>4} {'STT $':>8} {'LLM $':>8} "
                          f"{'TTS $':>8} {'total $':>8} {'$/min':>7} {'hit':>5}")
        for row in rows:
            self.stdout.write(
                f"{row['call']:38} {_mode(row):6} "
                f"{row['minutes']:>4.1f} {row['stt_usd']:>8.4f} {row['llm_usd']:>8.4f} "
                f"{row['tts_usd']:>8.4f} {row['total_usd']:>8.4f} "
                f"{row['usd_per_minute']:>7.4f} {row['cache_hit_ratio']:>5.0%}")
        off = {row["call"]: row for row in rows if not row["prompt_cache"]}
        for row in rows:
            if row["prompt_cache"]:
                before = off[row["call"]]["llm_input_usd"]
                saved = 1 - row["llm_input_usd"] / before if before else 0.0
                self.stdout.write(f"{row['call']} ({_mode(row)}): caching cuts the prompt's "
                                  f"cost by {saved:.0%}")


def _mode(row: dict) -> str:
    if row["routed"]:
        return "routed"
    return ("warm" if row["warm"] else "cold") if row["prompt_cache"] else "off"

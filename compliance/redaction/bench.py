"""`python -m compliance.redaction.bench [--rounds N]`: p50/p99/max µs of `redact` per utterance.

The corpus is the test corpus (PII, written and spoken, and look-alikes) plus ordinary
utterances, which are most of what a live call produces.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

ORDINARY = [
    "Hi, I'd like to book a cleaning for next week if you have anything.",
    "Yes, Tuesday afternoon works for me.",
    "Can you tell me what your opening hours are?",
    "I've got a toothache on the left side, it started two days ago.",
    "No, that's all, thank you so much for your help.",
    "Sorry, could you repeat that? The line is a bit noisy.",
    "Do you take my insurance? It's through my employer.",
    "Okay, great, see you then. Bye.",
    "Is there parking near the office or should I take the bus?",
    "My daughter needs a check-up too, she's seven.",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")
    import django

    django.setup()
    from compliance.redaction import redact
    from compliance.tests.redaction_cases import NEGATIVE, POSITIVE

    corpus = [text for text, _, _ in POSITIVE] + NEGATIVE + ORDINARY
    for text in corpus:  # warm regex and phonenumbers caches
        redact(text)
    per_text: list[list[float]] = [[] for _ in corpus]
    clock = time.perf_counter_ns
    gc.disable()  # as timeit does: collector pauses are not redact's cost
    try:
        for _ in range(args.rounds):
            for index, text in enumerate(corpus):
                started = clock()
                redact(text)
                per_text[index].append((clock() - started) / 1000)
    finally:
        gc.enable()
    calls = sorted(sample for samples in per_text for sample in samples)
    # A shared machine preempts some calls; the median per utterance is redact's own cost.
    medians = sorted(statistics.median(samples) for samples in per_text)
    print(f"redact: {len(corpus)} utterances x {args.rounds} rounds = {len(calls)} calls")
    print(f"all calls:             p50 {_pct(calls, 50):7.1f} µs   p99 {_pct(calls, 99):7.1f} µs"
          f"   max {calls[-1]:8.1f} µs")
    print(f"median per utterance:  p50 {_pct(medians, 50):7.1f} µs   p99 {_pct(medians, 99):7.1f}"
          f" µs   max {medians[-1]:8.1f} µs")


def _pct(sorted_values: list[float], percent: int) -> float:
    return sorted_values[min(len(sorted_values) - 1, len(sorted_values) * percent // 100)]

if __name__ == "__main__":
    main()

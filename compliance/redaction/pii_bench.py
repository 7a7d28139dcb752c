"""`python -m compliance.redaction.pii_bench [--set eval|dev] [--show]`: recall and precision of
name and address redaction on a labelled set of call-style utterances, and its cost.

Recall counts a labelled name or address as found when every word of it is inside findings of
its kind (a surname left in clear is a miss); token recall counts words. Precision counts
findings of a kind that overlap a labelled span of that kind. The figures in
docs/compliance.md come from `--set eval`; the recogniser was designed on `--set dev`.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from dataclasses import dataclass, field

KINDS = ("name", "address")
_WORD = re.compile(r"\w+")


@dataclass
class Score:
    entities: int = 0
    found: int = 0
    words: int = 0
    words_found: int = 0
    findings: int = 0
    correct: int = 0
    misses: list[str] = field(default_factory=list)
    false: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.entities if self.entities else 1.0

    @property
    def word_recall(self) -> float:
        return self.words_found / self.words if self.words else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.findings if self.findings else 1.0


def score(cases, redact) -> dict[str, Score]:
    """Per kind: recall and precision of `redact` on (text, {kind: [substrings]}) cases."""
    scores = {kind: Score() for kind in KINDS}
    for text, labels in cases:
        findings = redact(text).findings
        for kind in KINDS:
            spans = [(f.start, f.end) for f in findings if f.kind == kind]
            gold = _gold_spans(text, labels.get(kind, []))
            result = scores[kind]
            for start, end in gold:
                words = [m.span() for m in _WORD.finditer(text, start, end)]
                covered = [w for w in words if any(s <= w[0] and w[1] <= e for s, e in spans)]
                result.entities += 1
                result.words += len(words)
                result.words_found += len(covered)
                if len(covered) == len(words):
                    result.found += 1
                else:
                    result.misses.append(f"{text[start:end]!r} in {text!r}")
            for start, end in spans:
                result.findings += 1
                if any(start < e and s < end for s, e in gold):
                    result.correct += 1
                else:
                    result.false.append(f"{text[start:end]!r} in {text!r}")
    return scores


def _gold_spans(text: str, substrings: list[str]) -> list[tuple[int, int]]:
    spans, position = [], 0
    for substring in substrings:
        start = text.find(substring, position)
        if start < 0:
            start = text.find(substring)
        spans.append((start, start + len(substring)))
        position = start + len(substring)
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", choices=("eval", "dev"), default="eval")
    parser.add_argument("--show", action="store_true", help="list misses and false findings")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")
    import django

    django.setup()
    from compliance.redaction import redact

    if args.set == "eval":
        from compliance.tests.pii_eval_cases import CASES as cases
    else:
        from compliance.tests.pii_dev_cases import DEV_CASES as cases
    started = time.perf_counter()
    redact("warm up: my name is Ann, I live at 1 Main Street")  # loads the gazetteer and CRF
    load_ms = (time.perf_counter() - started) * 1000
    scores = score(cases, redact)
    print(f"{args.set} set: {len(cases)} utterances")
    for kind, result in scores.items():
        print(f"{kind:8} recall {result.recall:6.1%} ({result.found}/{result.entities})  "
              f"word recall {result.word_recall:6.1%}  precision {result.precision:6.1%} "
              f"({result.correct}/{result.findings})")
        if args.show:
            for miss in result.misses:
                print("   miss ", miss)
            for false in result.false:
                print("   false", false)
    per_text = []
    for text, _ in cases:
        samples = []
        for _ in range(args.rounds):
            started = time.perf_counter_ns()
            redact(text)
            samples.append((time.perf_counter_ns() - started) / 1000)
        per_text.append(statistics.median(samples))
    per_text.sort()
    p50 = per_text[len(per_text) // 2]
    p99 = per_text[min(len(per_text) - 1, len(per_text) * 99 // 100)]
    print(f"redact() per utterance (median of {args.rounds}): p50 {p50:.0f} µs  p99 {p99:.0f} µs"
          f"  max {per_text[-1]:.0f} µs; first call (loads gazetteer and CRF) {load_ms:.0f} ms")


if __name__ == "__main__":
    main()

"""Word error rate of the offline recogniser on phone-band speech, before and after biasing.

    python -m calls.realtime.wer            # both voices, general vs. vocabulary-biased
    python -m calls.realtime.wer --verbose  # plus every hypothesis

Each sentence is synthesised (hibari "heart" and espeak-ng "en-us"), brought to what Twilio
delivers (8 kHz µ-law, anti-aliased) and streamed through `PocketsphinxSTT` exactly as a call
would: 20 ms frames, then `finalize()`. One stream per voice and configuration, so the cepstral
mean adapts across turns as it does in a call. "general" opens the stream without vocabulary;
"biased" passes `BUSINESS_VOCABULARY`, the phrases a hair salon's agent would be configured with
(services, days, times, names); the test sentences are callers' questions, not those phrases.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from calls.realtime.providers.stt.sphinx_lm import normalize_words

if TYPE_CHECKING:
    from calls.realtime.providers.stt.base import STTProvider

BUSINESS_VOCABULARY: tuple[str, ...] = (
    "opening hours", "what time do you open", "what time do you close", "are you open today",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
    "today", "tomorrow", "next week", "morning", "afternoon", "evening",
    "our address", "where are you located", "parking",
    "haircut", "full color treatment", "highlights", "blow dry", "price list",
    "how much does it cost", "book an appointment", "make a reservation",
    "cancel my appointment", "reschedule my appointment", "credit cards", "cash", "salon",
    "John Smith", "Maria Garcia", "3:30", "10 o'clock", "yes", "no", "thank you", "goodbye",
)

IN_DOMAIN_SENTENCES: tuple[str, ...] = (
    "hi what time do you open tomorrow morning",
    "are you open on saturday",
    "what are your opening hours on sunday",
    "what is your address",
    "where exactly are you located",
    "how much does a haircut cost",
    "what is the price of a full color treatment",
    "i would like to book an appointment",
    "can i make a reservation for two people on friday evening",
    "do you have anything available next tuesday afternoon",
    "my name is john smith",
    "my last name is garcia",
    "is three thirty okay for you",
    "i need to cancel my appointment",
    "can i reschedule to next monday",
    "do you accept credit cards",
    "is there parking near the salon",
    "yes that works for me",
    "no thank you that is all",
    "thank you very much goodbye",
)

# Speech the vocabulary does not cover: biasing must not make these worse.
OUT_OF_DOMAIN_SENTENCES: tuple[str, ...] = (
    "the weather has been lovely this week",
    "my daughter plays the piano every evening",
    "the quick brown fox jumps over the lazy dog",
    "please send the invoice to my accountant",
)

VOICES = ("hibari", "espeak")


# One word, two spellings: scored as the same word on both sides, as NIST's scoring tools do with
# their spelling tables ("ok" and "okay" have one pronunciation in the dictionary, and the
# recogniser's language model picks one of them; a knowledge entry's "check-up" is two words).
SAME_WORDS: dict[str, tuple[str, ...]] = {"ok": ("okay",), "checkup": ("check", "up")}


def scoring_words(text: str) -> list[str]:
    """`normalize_words` with each spelling of a word in `SAME_WORDS` made one."""
    return [part for word in normalize_words(text) for part in SAME_WORDS.get(word, (word,))]


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, start=1):
        current = [i]
        for j, hyp_word in enumerate(hypothesis, start=1):
            current.append(
                min(
                    previous[j] + 1,  # deletion
                    current[j - 1] + 1,  # insertion
                    previous[j - 1] + (ref_word != hyp_word),  # substitution or match
                )
            )
        previous = current
    return previous[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """WER of one hypothesis after normalisation (case, punctuation, digits spelled out, one
    spelling per word).

    An empty reference gives 0.0 for an empty hypothesis and 1.0 otherwise.
    """
    ref, hyp = scoring_words(reference), scoring_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)


@dataclass
class Score:
    """Errors and reference words accumulated over a set of sentences."""

    errors: int = 0
    words: int = 0
    lines: list[str] = field(default_factory=list)

    def add(self, reference: str, hypothesis: str) -> None:
        ref, hyp = scoring_words(reference), scoring_words(hypothesis)
        errors = word_errors(ref, hyp)
        self.errors += errors
        self.words += len(ref)
        self.lines.append(f"  {errors} | {reference} => {hypothesis}")

    @property
    def wer(self) -> float:
        return 100.0 * self.errors / self.words if self.words else 0.0


async def phone_band(text: str, voice: str, seed: int = 0) -> bytes:
    """`text` spoken by `voice` ("hibari" or "espeak") as 8 kHz µ-law, reproducibly.

    espeak-ng is resampled in one piece here: the streaming provider's output depends (by a
    least significant bit) on how the pipe happened to chunk it, which would make runs differ.
    """
    from calls.realtime.audio import pcm16_to_ulaw, read_wav

    if voice == "hibari":
        from calls.realtime.providers.tts.base import TTSOptions
        from calls.realtime.providers.tts.hibari import HibariTTS

        chunks = [c async for c in HibariTTS(seed=seed).synthesize(text, TTSOptions())]
        return b"".join(chunks)
    process = await asyncio.create_subprocess_exec(
        "espeak-ng", "-v", "en-us", "--stdout", "--stdin",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    wav, _ = await process.communicate(text.encode())
    return pcm16_to_ulaw(read_wav(wav))


async def transcribe_turns(
    provider: STTProvider, turns: Sequence[bytes], vocabulary: Sequence[str] = (),
    expected: Sequence[str] = (),
) -> tuple[list[str], float]:
    """Stream each µ-law turn (with 300 ms of silence around it) through one STT stream, with
    `expected` answers (`STTStream.expect`, as after the offline brain's question) if any.

    Returns the final text per turn and the decoding wall time in seconds.
    """
    from calls.realtime.audio import FRAME_BYTES, ULAW_SILENCE, frames
    from calls.realtime.providers.stt.base import STTOptions

    silence = bytes([ULAW_SILENCE]) * (FRAME_BYTES * 15)
    stream = await provider.open_stream(STTOptions(vocabulary=list(vocabulary)))
    results = stream.transcripts()
    texts = []
    try:
        if expected:
            stream.expect(expected)
        for audio in turns:
            for frame in frames(silence + audio + silence):
                stream.feed(frame)
            stream.finalize()
            parts = []  # a recogniser may end utterances at pauses: finals until speech_final
            async for transcript in results:
                if transcript.is_final and transcript.text.strip():
                    parts.append(transcript.text.strip())
                if transcript.speech_final:
                    texts.append(" ".join(parts))
                    break
        decode_seconds = getattr(stream, "decode_seconds", 0.0)
    finally:
        await stream.aclose()
    return texts, decode_seconds


async def measure(verbose: bool = False, voices: Sequence[str] = VOICES) -> dict[str, Score]:
    """Run every voice x {general, biased} x {in-domain, out-of-domain}; print and return scores."""
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    provider = PocketsphinxSTT()
    sentences = [*IN_DOMAIN_SENTENCES, *OUT_OF_DOMAIN_SENTENCES]
    scores: dict[str, Score] = {}
    for voice in voices:
        audio = [await phone_band(s, voice, seed=i) for i, s in enumerate(sentences)]
        audio_seconds = sum(len(a) for a in audio) / 8000
        for config, vocabulary in (("general", ()), ("biased", BUSINESS_VOCABULARY)):
            started = time.perf_counter()
            texts, decode_seconds = await transcribe_turns(provider, audio, vocabulary)
            elapsed = time.perf_counter() - started
            for part, first, last in (("in", 0, len(IN_DOMAIN_SENTENCES)),
                                      ("out", len(IN_DOMAIN_SENTENCES), len(sentences))):
                score = scores[f"{voice}/{config}/{part}"] = Score()
                for reference, text in zip(sentences[first:last], texts[first:last], strict=True):
                    score.add(reference, text)
            print(
                f"{voice:7s} {config:8s} in-domain WER {scores[f'{voice}/{config}/in'].wer:5.1f}%"
                f"  out-of-domain WER {scores[f'{voice}/{config}/out'].wer:5.1f}%"
                f"  decode {decode_seconds / audio_seconds:.2f}x real time"
                f" ({elapsed:.1f} s wall for {audio_seconds:.0f} s of audio)",
                flush=True,
            )
            if verbose:
                for part in ("in", "out"):
                    print("\n".join(scores[f"{voice}/{config}/{part}"].lines))
    return scores


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="print every hypothesis")
    parser.add_argument("--voice", choices=VOICES, action="append", help="only this voice")
    args = parser.parse_args(argv)
    asyncio.run(measure(verbose=args.verbose, voices=args.voice or VOICES))


if __name__ == "__main__":
    main()

"""CPU cost of the offline speech stack, measured directly on the provider classes (no server).

    python -m calls.bench.offline_cost      → JSON on stdout (the runner pins it to one core)

pocketsphinx: the caller clips (espeak-ng speech, 0.5 s of line silence after each) go through
`PocketsphinxSTT.open_stream` as fast as it decodes, one finalize per clip; hibari: the agent's
lines through `HibariTTS.synthesize`. Each result is process CPU seconds (all threads: the
providers decode in their pools) per second of audio, after a warm-up that loads the models.
Calls per core assume the caller speaks, and the agent speaks, `DUTY_CYCLE` of a call each.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from calls.bench.speech import SILENCE_FRAME, caller_clips
from calls.realtime.audio import FRAME_BYTES, SAMPLE_RATE
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.tts.base import TTSOptions

DUTY_CYCLE = 0.4  # share of a call each side talks (the rest: the other side, pauses)
STT_ROUNDS = 3
LOOP_TICK_S = 0.005
AGENT_LINES = (
    "Sure, I can help with that.",
    "We are open Monday to Friday from nine to five, and on Saturday mornings until one.",
    "A check-up is sixty dollars, a cleaning is ninety dollars, and a filling starts at one "
    "hundred and twenty.",
    "Yes, there is free parking behind the building.",
)
VOCABULARY = ["What are your opening hours?", "Where are you located?", "Is there parking?",
              "How much does a cleaning cost?", "I would like to book an appointment."]


def _cost(cpu_s: float, audio_s: float, wall_s: float) -> dict:
    per_s = cpu_s / audio_s
    return {"cpu_s_per_audio_s": round(per_s, 4), "audio_s": round(audio_s, 1),
            "wall_s": round(wall_s, 2), "real_time_factor": round(wall_s / audio_s, 4),
            "calls_per_core": round(1 / (per_s * DUTY_CYCLE), 1), "duty_cycle": DUTY_CYCLE}


async def stt_cost(vocabulary: list[str]) -> dict:
    """pocketsphinx CPU per second of caller audio (speech plus a little line silence)."""
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    clips, _ = caller_clips()
    audio = [b"".join(_frames(c.payloads)) + SILENCE_FRAME * 25 for c in clips]
    provider = PocketsphinxSTT()
    await _recognize(provider, vocabulary, audio[:1])  # loads the models
    waits: list[float] = []
    ticker = asyncio.create_task(_watch_loop(waits))
    started_cpu, started = time.process_time(), time.perf_counter()
    texts = await _recognize(provider, vocabulary, audio * STT_ROUNDS)
    cpu_s, wall_s = time.process_time() - started_cpu, time.perf_counter() - started
    ticker.cancel()
    audio_s = sum(len(a) for a in audio) * STT_ROUNDS / SAMPLE_RATE
    waits.sort()
    return {**_cost(cpu_s, audio_s, wall_s), "sample": texts[:2],
            "loop_wait_ms_p99": round(waits[int(0.99 * (len(waits) - 1))], 1) if waits else None,
            "loop_wait_ms_max": round(waits[-1], 1) if waits else None}


async def _watch_loop(waits: list[float]) -> None:
    """How late the event loop runs a 5 ms timer while the decoders work in their threads:
    pocketsphinx holds the GIL while it decodes, and every call's audio on the process waits
    with the loop (the pacer keeps only 80 ms queued at Twilio)."""
    while True:
        due = time.perf_counter() + LOOP_TICK_S
        await asyncio.sleep(LOOP_TICK_S)
        waits.append(max(0.0, time.perf_counter() - due) * 1000)


async def _recognize(provider, vocabulary: list[str], utterances: list[bytes]) -> list[str]:
    stream = await provider.open_stream(STTOptions(vocabulary=vocabulary))
    finals: asyncio.Queue[str] = asyncio.Queue()

    async def read() -> None:
        async for transcript in stream.transcripts():
            if transcript.speech_final:
                finals.put_nowait(transcript.text)

    reader = asyncio.create_task(read())
    texts = []
    try:
        for utterance in utterances:
            for start in range(0, len(utterance), FRAME_BYTES):
                stream.feed(utterance[start:start + FRAME_BYTES])
            stream.finalize()
            texts.append(await asyncio.wait_for(finals.get(), 120))
    finally:
        await stream.aclose()
        reader.cancel()
    return texts


async def tts_cost() -> dict:
    """hibari CPU per second of agent audio produced."""
    from calls.realtime.providers.tts.hibari import HibariTTS

    tts = HibariTTS()
    options = TTSOptions()
    async for _ in tts.synthesize(AGENT_LINES[0], options):  # loads the voice
        pass
    started_cpu, started = time.process_time(), time.perf_counter()
    produced = 0
    for line in AGENT_LINES * 2:
        async for chunk in tts.synthesize(line, options):
            produced += len(chunk)
    cpu_s, wall_s = time.process_time() - started_cpu, time.perf_counter() - started
    return _cost(cpu_s, produced / SAMPLE_RATE, wall_s)


def _frames(payloads: list[str]) -> list[bytes]:
    import base64

    return [base64.b64decode(p) for p in payloads]


async def measure() -> dict:
    results: dict[str, dict] = {}
    for name, job in (("pocketsphinx", lambda: stt_cost([])),
                      ("pocketsphinx + vocabulary", lambda: stt_cost(VOCABULARY)),
                      ("hibari", tts_cost)):
        try:
            results[name] = await job()
        except Exception as exc:  # a missing model must not hide the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    stt, tts = results.get("pocketsphinx + vocabulary", {}), results.get("hibari", {})
    if "cpu_s_per_audio_s" in stt and "cpu_s_per_audio_s" in tts:
        per_call = DUTY_CYCLE * (stt["cpu_s_per_audio_s"] + tts["cpu_s_per_audio_s"])
        results["offline stack (STT + TTS)"] = {
            "cpu_s_per_audio_s": round(per_call / DUTY_CYCLE, 4),
            "calls_per_core": round(1 / per_call, 1), "duty_cycle": DUTY_CYCLE}
    return results


def main() -> int:
    print(json.dumps(asyncio.run(measure())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

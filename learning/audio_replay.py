"""Replay in audio mode: a past call's own caller audio — cut from its recording, one clip per
caller turn — said again to a candidate version on a new call through the media pipeline
(learning/audio_eval.py). The candidate's recogniser hears what the caller really said, not the
stored, redacted words, so a change of voice, recogniser or turn-taking shows too. Its behaviour
is compared with what happened as in text mode (learning/replay.py).

Only calls that were recorded, for someone allowed to play recordings: each recording read is
audited like a playback, and never leaves the process. A call without a recording is replayed
in text mode (its result says which).
"""

from __future__ import annotations

import asyncio
import io
import wave

import numpy as np

from calls.models import Call, Role
from calls.realtime.audio import pcm16_to_ulaw
from calls.simulator.caller import ScriptedCaller, parse_script
from learning.audio_eval import SCENARIOS_AT_ONCE, TURN_TIMEOUT_S, play_call
from learning.replay import CallReplay, behaviour_differences, what_happened

# Audio kept around each caller turn's recognised span: its first and last sounds.
CLIP_MARGIN_MS = 250
CLIP = "clip "


class RecordedCaller(ScriptedCaller):
    """Says recorded clips instead of synthesising text: step `clip 3` plays clips[3]."""

    def __init__(self, clips: list[bytes]) -> None:
        super().__init__(None, to="", from_="", transcriber=None, turn_timeout_s=TURN_TIMEOUT_S,
                         printer=lambda line: None)
        self.clips = clips

    async def speech(self, text: str) -> bytes:
        return self.clips[int(text.removeprefix(CLIP))]


def caller_clips(wav: bytes, spans_ms: list[tuple[int, int]]) -> list[bytes]:
    """The caller's channel (left) of a call recording, cut at each span as 8 kHz µ-law."""
    with wave.open(io.BytesIO(wav)) as recording:
        channels, rate = recording.getnchannels(), recording.getframerate()
        samples = np.frombuffer(recording.readframes(recording.getnframes()), dtype=np.int16)
    caller = samples[0::channels]
    clips, taken_until = [], 0
    for start_ms, end_ms in spans_ms:
        first = max(taken_until, (start_ms - CLIP_MARGIN_MS) * rate // 1000)
        last = min(len(caller), (end_ms + CLIP_MARGIN_MS) * rate // 1000)
        if last > first:
            clips.append(pcm16_to_ulaw(np.ascontiguousarray(caller[first:last])))
            taken_until = last
    return clips


def replay_calls_audio(*, agent, version, calls: list[Call], actor=None) -> list[CallReplay]:
    """Each recorded call's caller audio played to `version` (an AgentVersion); the others in
    text mode. Sync: a command or a task (it takes the calls' real time)."""
    from calls.recordings import recording_audio
    from learning.replay import replay_calls

    recorded, results = [], {}
    for call in calls:
        turns = list(call.turns.order_by("index").values_list("role", "text", "start_ms",
                                                              "end_ms"))
        spans = [(start, end) for role, _, start, end in turns
                 if role == Role.CALLER and end > start]
        if not call.recording or not spans:
            [results[call.pk]] = replay_calls(agent=agent, version=version, calls=[call])
            continue
        clips = caller_clips(recording_audio(call=call, actor=actor), spans)
        recorded.append((call, what_happened(call, [(r, t) for r, t, _, _ in turns]), clips))
    agent.tenant  # noqa: B018 - read here, in sync code: the calls start from the event loop
    played = asyncio.run(_play_all(agent, version, [clips for _, _, clips in recorded]))
    for (call, original, clips), replay_call_id in zip(recorded, played, strict=True):
        again = Call.objects.get(pk=replay_call_id)
        replayed = what_happened(again, list(again.turns.order_by("index").values_list(
            "role", "text")))
        results[call.pk] = CallReplay(
            call_id=call.pk, caller_turns=len(clips), original=original, replayed=replayed,
            differences=behaviour_differences(original, replayed), mode="audio")
    return [results[call.pk] for call in calls]


async def _play_all(agent, version, recordings: list[list[bytes]]) -> list[int]:
    """Each recording's clips said on a call of its own; the calls' ids."""
    at_once = asyncio.Semaphore(SCENARIOS_AT_ONCE)

    async def one(clips: list[bytes]) -> int:
        async with at_once:
            steps = parse_script([f"{CLIP}{n}" for n in range(len(clips))])
            call_id, _, _ = await play_call(agent, version, steps, caller=RecordedCaller(clips))
            return call_id

    return list(await asyncio.gather(*(one(clips) for clips in recordings)))

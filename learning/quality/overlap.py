"""Speech over the agent: backchannels, noises and real interruptions played into each demo
agent's greeting on real calls (simulator → daphne → media pipeline, the offline recogniser's
interim words), judged by what Twilio's side saw: a `clear`, the agent's audio stopping, and
whether it came back.

A backchannel or a noise should pause the agent at most briefly and never `clear` it (a false
interrupt is a `clear`); an interruption should `clear` it, and the agent should fall silent
soon after the caller starts (the reaction the caller hears).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from calls.realtime.audio import VOICE_PEAK, loud_frames, pcm16_to_ulaw
from calls.realtime.frames import FRAME_BYTES, FRAME_S
from calls.realtime.wer import phone_band
from calls.simulator.phone import MediaStreamPeer, TwilioPhone

BACKCHANNELS = ("uh-huh", "okay", "yeah", "right", "mm-hmm", "I see", "sure", "got it")
INTERRUPTIONS = ("Wait, I have a question.", "Sorry, can I book for Tuesday?",
                 "No, that is not what I need.", "Hold on, I want to cancel.",
                 "Can I speak to a person please?", "Stop, stop.")
NOISES = ("cough", "knock", "crackle", "breath")
INTO_AGENT_S = 0.6  # the clip starts this long after the agent's audio does
WATCH_S = 1.6  # after the clip: long enough for a resume or a reply to start
SILENT_GAP_S = 0.1  # no agent frame for this long: the caller hears it has stopped
_CALLERS = (f"+1555030{n:04d}" for n in itertools.count())


@dataclass
class OverlapTrial:
    agent: str
    kind: str  # "backchannel", "noise", "interruption"
    text: str
    voice: str
    cleared: bool = False
    paused: bool = False
    resumed: bool = False
    silent_after_ms: int | None = None  # caller audio before the agent stopped
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def noise_clip(name: str, seed: int = 0) -> bytes:
    """A non-speech sound at speech level, as 8 kHz µ-law: a cough (a loud, decaying burst), a
    knock (two short bursts), line crackle, a breath (soft, low)."""
    rng = np.random.default_rng(seed)
    rate = 8000

    def burst(seconds: float, level: float, decay: float, smooth: int) -> np.ndarray:
        n = int(seconds * rate)
        noise = rng.normal(0.0, 1.0, n)
        if smooth > 1:  # a moving average: a darker sound
            noise = np.convolve(noise, np.ones(smooth) / smooth, mode="same")
            noise /= max(1e-9, float(np.std(noise)))
        envelope = np.exp(-np.arange(n) / (decay * rate))
        return noise * envelope * level

    if name == "cough":
        pcm = np.concatenate([burst(0.25, 9000, 0.08, 3), burst(0.15, 6000, 0.05, 3)])
    elif name == "knock":
        gap = np.zeros(int(0.12 * rate))
        pcm = np.concatenate([burst(0.06, 12000, 0.015, 2), gap, burst(0.06, 12000, 0.015, 2)])
    elif name == "crackle":
        pcm = burst(0.4, 5000, 10.0, 1) * (rng.random(int(0.4 * rate)) < 0.3)
    elif name == "breath":
        pcm = burst(0.5, 2500, 0.4, 12)
    else:
        raise ValueError(f"unknown noise {name!r}")
    return pcm16_to_ulaw(np.clip(pcm, -32768, 32767).astype(np.int16))


def trim_leading_quiet(ulaw: bytes, threshold: int = VOICE_PEAK) -> bytes:
    """The clip from its first loud frame on: its time zero is the caller's first sound."""
    loud = np.flatnonzero(loud_frames(ulaw, threshold))
    return ulaw[loud[0] * FRAME_BYTES:] if loud.size else ulaw


async def play_trial(phone: TwilioPhone, number: str, clip: bytes, *, agent: str, kind: str,
                     text: str, voice: str) -> OverlapTrial:
    """One call: `clip` said `INTO_AGENT_S` into the agent's first audio, then watched."""
    trial = OverlapTrial(agent, kind, text, voice)
    info = await phone.dial(to=number, from_=next(_CALLERS))
    peer = MediaStreamPeer(await phone.open_stream(info), info)
    await peer.start()
    try:
        if not await peer.wait_agent_speaking(timeout_s=10):
            trial.error = "the agent never spoke"
            return trial
        await asyncio.sleep(INTO_AGENT_S)
        clears = peer.clears
        peer.say(clip)
        said_at = time.monotonic() + FRAME_S / 2  # the peer's clock sends it on its next tick
        stopped_at: float | None = None
        until = said_at + len(clip) / 8000 + WATCH_S
        while time.monotonic() < until and not peer.closed.is_set():
            await asyncio.sleep(FRAME_S)
            last = peer.last_agent_frame_at
            if stopped_at is None:
                if time.monotonic() - last >= SILENT_GAP_S and last >= said_at - FRAME_S:
                    stopped_at = last
            elif last > stopped_at + SILENT_GAP_S:
                trial.resumed = True
        trial.cleared = peer.clears > clears
        trial.paused = stopped_at is not None
        if stopped_at is not None:
            trial.silent_after_ms = max(0, int((stopped_at - said_at) * 1000))
        return trial
    finally:
        await peer.hang_up()


async def overlap_trials(base_url: str, auth_token: str, agent: str, number: str,
                         voices: tuple[str, ...], *, limit: int | None = None
                         ) -> list[OverlapTrial]:
    """Every backchannel and interruption in every voice, and every noise, into `agent`'s
    greeting (the first `limit` of each kind when given)."""
    phone = TwilioPhone(base_url, auth_token, public_base_url=base_url)
    plan: list[tuple[str, str, str, bytes]] = []
    for voice in voices:
        for text in BACKCHANNELS[:limit]:
            plan.append(("backchannel", text, voice, await phone_band(text, voice)))
        for text in INTERRUPTIONS[:limit]:
            plan.append(("interruption", text, voice, await phone_band(text, voice)))
    for seed, name in enumerate(NOISES[:limit]):
        plan.append(("noise", name, "", noise_clip(name, seed)))
    trials = []
    for kind, text, voice, clip in plan:
        trials.append(await play_trial(phone, number, trim_leading_quiet(clip), agent=agent,
                                       kind=kind, text=text, voice=voice))
    return trials


def summarise(trials: list[OverlapTrial]) -> dict[str, Any]:
    """Rates per kind: false interrupts (a `clear`) for backchannels and noises, and for
    interruptions the share cut and how soon the agent fell silent."""
    from calls.dashboard import percentile

    def of(kind: str) -> list[OverlapTrial]:
        return [t for t in trials if t.kind == kind and not t.error]

    def rate(items: list[OverlapTrial], test) -> float | None:
        return round(sum(1 for t in items if test(t)) / len(items), 3) if items else None

    quiet = of("backchannel") + of("noise")
    cut = of("interruption")
    silences = [t.silent_after_ms for t in cut if t.silent_after_ms is not None]
    return {
        "backchannels": len(of("backchannel")), "noises": len(of("noise")),
        "interruptions": len(cut), "errors": sum(1 for t in trials if t.error),
        "backchannel_false_interrupts": rate(of("backchannel"), lambda t: t.cleared),
        "noise_false_interrupts": rate(of("noise"), lambda t: t.cleared),
        "resumed": rate([t for t in quiet if t.paused and not t.cleared], lambda t: t.resumed),
        "interruptions_cut": rate(cut, lambda t: t.cleared),
        "silent_after_ms_p50": percentile(silences, 0.5),
        "silent_after_ms_p95": percentile(silences, 0.95),
        "trials": [t.as_dict() for t in trials],
    }

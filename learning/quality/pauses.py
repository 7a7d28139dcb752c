"""Turn ends on real calls: does the words-aware end of turn answer finished callers sooner
without cutting off the ones who pause mid-sentence — against the agent's fixed silence?

Each demo agent is called (simulator → daphne → media pipeline, the offline recogniser's
interim words) once with `smart_end_of_turn` on and once with it off (the 700 ms silence alone).
The caller says the agent's samples of `sets/pauses.txt` one after another, each after the
agent's previous answer: complete turns, and sentences with a pause of 500, 800 or 1,200 ms
where the caller hesitates (" … "). Judged from what the server stored and the caller heard:

- a *false cut-off* is a caller turn that ended in the pause (the agent answered half a
  sentence; the rest became a turn of its own, or was taken for a backchannel);
- the *answer* is the time from the caller's last sound to the agent's first audio, for turns
  that were not cut off;
- an answer *taken back* is one the agent began in the pause and stopped when the caller went
  on (`calls/realtime/continuation.py`: the turn is stored whole, so it is no cut-off), with how
  much of it the caller heard before they went on.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from calls.realtime.audio import VOICE_PEAK, loud_frames
from calls.realtime.frames import FRAME_BYTES, FRAME_S
from calls.realtime.wer import phone_band
from calls.simulator.phone import DialError, MediaStreamPeer, TwilioPhone
from learning.quality.dataset import SETS, DatasetError

PAUSE_MARK = " … "
PAUSES_MS = (500, 800, 1200)  # cycled over an agent's paused samples, in file order
POLICIES = ("words", "silence")  # smart_end_of_turn on, off
ANSWER_TIMEOUT_S = 10.0
QUIET_S = 0.8  # the agent has finished answering after this much silence
STORED_WAIT_S = 15.0
# A taken-back answer is recorded once the rest of the sentence is heard: within this of resuming.
CONTINUED_WITHIN_MS = 5000
_CALLERS = (f"+1555040{n:04d}" for n in itertools.count())


@dataclass(frozen=True)
class PauseSample:
    agent: str
    text: str
    before: str = ""  # the words before the pause ("" for a complete turn)
    after: str = ""
    pause_ms: int = 0

    @property
    def paused(self) -> bool:
        return bool(self.before)


@dataclass
class PauseTrial:
    agent: str
    policy: str
    voice: str
    text: str
    pause_ms: int
    cut_off: bool | None = None  # None: not judged (an error, or a complete turn)
    answer_ms: int | None = None
    taken_back: bool | None = None  # the agent began answering in the pause and stopped
    heard_ms: int | None = None  # how long the caller heard that beginning
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_samples(agent_key: str) -> list[PauseSample]:
    path = SETS / "pauses.txt"
    samples: list[PauseSample] = []
    pauses = itertools.cycle(PAUSES_MS)
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        agent, sep, text = (part.strip() for part in line.partition("|"))
        if not sep or not text:
            raise DatasetError(f"pauses.txt:{number}: expected 'agent | text'")
        if agent != agent_key:
            continue
        before, mark, after = text.partition(PAUSE_MARK.strip())
        if mark:
            samples.append(PauseSample(agent, text.replace(mark, " "), before.strip(),
                                       after.strip(), next(pauses)))
        else:
            samples.append(PauseSample(agent, text))
    return samples


def voiced(ulaw: bytes, threshold: int = VOICE_PEAK) -> bytes:
    """The clip from its first to its last loud 20 ms frame (synthesis pads both ends)."""
    loud = np.flatnonzero(loud_frames(ulaw, threshold))
    if loud.size == 0:
        return ulaw
    return ulaw[loud[0] * FRAME_BYTES:(loud[-1] + 1) * FRAME_BYTES]


async def render(sample: PauseSample, voice: str) -> tuple[bytes, float]:
    """The sample as the caller says it, and when (seconds into the clip) they resume after
    the pause (0 for a complete turn)."""
    if not sample.paused:
        return voiced(await phone_band(sample.text, voice)), 0.0
    first = voiced(await phone_band(sample.before, voice))
    rest = voiced(await phone_band(sample.after, voice))
    pause = b"\xff" * (sample.pause_ms * 8)
    return first + pause + rest, (len(first) + len(pause)) / 8000


@dataclass
class _Said:
    trial: PauseTrial
    start_s: float  # offsets from the stream's start
    resume_s: float


async def pause_trials(base_url: str, auth_token: str, agent: str, number: str,
                       samples: list[PauseSample], *, policy: str, voice: str = "hibari"
                       ) -> list[PauseTrial]:
    """Every sample said to the agent at `number`, in as few calls as it takes (a call the
    agent ends is redialled for the rest). The agent's policy is set by the caller."""
    phone = TwilioPhone(base_url, auth_token, public_base_url=base_url)
    clips = [await render(sample, voice) for sample in samples]
    trials: list[PauseTrial] = []
    pending = list(zip(samples, clips, strict=True))
    while pending:
        try:
            info = await phone.dial(to=number, from_=next(_CALLERS))
        except DialError as exc:
            trials += [PauseTrial(agent, policy, voice, s.text, s.pause_ms, error=str(exc))
                       for s, _ in pending]
            break
        peer = MediaStreamPeer(await phone.open_stream(info), info)
        await peer.start()
        said: list[_Said] = []
        try:
            if await peer.wait_agent_turn(started_after=0.0, timeout_s=15, idle_s=QUIET_S) \
                    is None:
                trials += [PauseTrial(agent, policy, voice, s.text, s.pause_ms,
                                      error="no greeting") for s, _ in pending]
                break
            while pending and not peer.closed.is_set():
                sample, (clip, resume_at) = pending.pop(0)
                trial = PauseTrial(agent, policy, voice, sample.text, sample.pause_ms)
                said.append(await _say(peer, trial, clip, resume_at))
        finally:
            await peer.hang_up()
        await asyncio.to_thread(_judge, info.call_sid, said)
        trials += [entry.trial for entry in said]
    return trials


async def _say(peer: MediaStreamPeer, trial: PauseTrial, clip: bytes,
               resume_at: float) -> _Said:
    peer.say(clip)
    said_at = time.monotonic() + FRAME_S / 2  # the peer sends it on its next tick
    entry = _Said(trial, said_at - peer.t0, said_at - peer.t0 + resume_at)
    voice_end = await peer.wait_caller_done()
    answer = await peer.wait_agent_turn(started_after=voice_end - FRAME_S,
                                        timeout_s=ANSWER_TIMEOUT_S, idle_s=QUIET_S)
    if answer is None:
        trial.error = "no answer"
    else:
        trial.answer_ms = max(0, int((answer.started_at - voice_end) * 1000))
    # Whatever was said or resumed meanwhile has finished before the next sample.
    deadline = time.monotonic() + 20
    while peer.agent_speaking and time.monotonic() < deadline and not peer.closed.is_set():
        await asyncio.sleep(FRAME_S)
    return entry


def _judge(call_sid: str, said: list[_Said]) -> None:
    """Mark each paused sample cut off or not from the caller turns the server stored."""
    from calls.models import Call, Role

    deadline = time.monotonic() + STORED_WAIT_S
    call = Call.objects.filter(call_sid=call_sid).first()
    while (call is None or not call.outcome) and time.monotonic() < deadline:
        time.sleep(0.2)
        call = Call.objects.filter(call_sid=call_sid).first()
    turns = [] if call is None else list(
        call.turns.filter(role=Role.CALLER).values_list("start_ms", "end_ms"))
    taken_back = [] if call is None else list(
        call.events.filter(type="turn_continued").values_list("offset_ms", "payload"))
    for entry in said:
        trial = entry.trial
        if not trial.pause_ms:
            continue
        start, resume = entry.start_s * 1000, entry.resume_s * 1000
        mine = [(s, e) for s, e in turns
                if s is not None and e is not None and start - 300 <= s < resume]
        if not mine:
            trial.error = trial.error or "no caller turn stored"
            continue
        # A turn of the words before the pause ends before the caller resumes.
        trial.cut_off = any(end < resume - 100 for _, end in mine)
        heard = [payload.get("heard_ms", 0) for at, payload in taken_back
                 if at is not None and start <= at <= resume + CONTINUED_WITHIN_MS]
        trial.taken_back = bool(heard)
        trial.heard_ms = max(heard) if heard else None
        if trial.cut_off:
            trial.answer_ms = None  # an answer to half a sentence is no answer latency


def rule_on_true_words(agent_key: str) -> dict[str, Any]:
    """The words rule given the words actually said (a perfect recogniser): the share of
    pauses it would wait through (the words before them plainly go on), and the share of
    whole turns it would answer at the short pause."""
    from calls.realtime.turn_words import sounds_finished

    samples = load_samples(agent_key)
    paused = [s for s in samples if s.paused]
    return {"paused": len(paused), "turns": len(samples),
            "pauses_held": _rate([sounds_finished(s.before) is False for s in paused]),
            "turns_finished": _rate([sounds_finished(s.text) is True for s in samples])}


def measure_pauses(base_url: str, auth_token: str, agent_key: str, number: str,
                   samples: list[PauseSample] | None = None, *, voice: str = "hibari"
                   ) -> list[PauseTrial]:
    """The agent's pause samples (or `samples`) with each end-of-turn policy, each published as
    a version for its calls; the agent is put back as it was after. Synchronous: it reads and
    writes the agent, and runs the calls in an event loop of its own."""
    from agents.models import PhoneNumber
    from agents.versions import agent_publish

    agent = PhoneNumber.objects.select_related("agent__tenant").get(e164=number).agent
    if agent is None:
        raise ValueError(f"{number} has no agent")
    original = agent.smart_end_of_turn
    samples = load_samples(agent_key) if samples is None else samples
    trials: list[PauseTrial] = []

    def publish(smart: bool, note: str) -> None:
        agent.smart_end_of_turn = smart
        agent.save(update_fields=["smart_end_of_turn"])
        agent_publish(tenant=agent.tenant, agent=agent, override_evaluation=True, note=note)

    try:
        for policy in POLICIES:
            publish(policy == "words", f"make eval: end of turn on {policy}")
            trials += asyncio.run(pause_trials(base_url, auth_token, agent_key, number, samples,
                                               policy=policy, voice=voice))
    finally:
        publish(original, "make eval: end of turn as before")
    return trials


def summarise(trials: list[PauseTrial]) -> dict[str, Any]:
    """Per policy: false cut-offs among paused samples (and per pause length), and the answer
    latency of the turns that were not cut off."""
    from calls.dashboard import percentile

    out: dict[str, Any] = {"trials": [t.as_dict() for t in trials]}
    for policy in POLICIES:
        mine = [t for t in trials if t.policy == policy and not t.error]
        if not mine:
            continue
        paused = [t for t in mine if t.pause_ms]
        answers = [t.answer_ms for t in mine if t.answer_ms is not None]
        heard = [t.heard_ms for t in paused if t.heard_ms is not None]
        out[policy] = {
            "paused": len(paused), "complete": len(mine) - len(paused),
            "errors": sum(1 for t in trials if t.policy == policy and t.error),
            "false_cut_offs": _rate([t.cut_off for t in paused]),
            "by_pause": {str(ms): _rate([t.cut_off for t in paused if t.pause_ms == ms])
                         for ms in PAUSES_MS},
            "taken_back": sum(1 for t in paused if t.taken_back),
            "heard_ms_p50": percentile(heard, 0.5),
            "heard_ms_max": max(heard) if heard else None,
            "answer_ms_p50": percentile(answers, 0.5),
            "answer_ms_p95": percentile(answers, 0.95),
            "answer_ms_mean": round(sum(answers) / len(answers)) if answers else None,
        }
    return out


def _rate(flags: list[bool | None]) -> float | None:
    judged = [flag for flag in flags if flag is not None]
    return round(sum(judged) / len(judged), 3) if judged else None

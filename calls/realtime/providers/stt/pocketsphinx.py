"""Offline speech-to-text with pocketsphinx 5 (CMU Sphinx): the embedded default, no network.

How a stream works
- `feed(ulaw)` only appends bytes (O(1) per frame). Every `chunk_ms` of audio (every
  `QUIET_CHUNK_MS` while the caller is quiet mid-utterance) the stream's worker coroutine hands
  the pending bytes to a bounded, process-wide thread pool; the decoding job
  decodes µ-law, gates on WebRTC VAD (nothing is decoded until the caller speaks; `preroll_ms` of
  audio before the first speech frame is kept), upsamples 8 -> 16 kHz (`Upsampler2x`: exact
  integer arithmetic, so a decode does not change with how the jobs split the audio) and runs
  `process_raw`. The event loop never decodes.
- `finalize()` (the session decided the caller's turn ended) ends the utterance and yields exactly
  one `Transcript(is_final=True, speech_final=True)`. **If nothing was recognised its text is
  ""** so the session always gets an answer to a finalize.
- Interim hypotheses (`is_final=False`) come after each chunk once there are words, with `end_ms`
  the audio they cover.
- After `endpoint_silence_ms` of the caller's silence the recogniser ends the utterance itself
  and keeps its words (reported as an interim) for the finalize, which is then instant: the
  decoders' end of utterance (~10 ms, `FLAT_SECOND_PASS` off) ran during the session's own
  end-of-turn wait, and the rest of the silence is not decoded. Speech before the finalize joins
  those words.
- The decoders take the audio in 40 ms slices (`DECODE_SLICE_SAMPLES`): pocketsphinx holds the
  GIL while it decodes, so the event loop waits at most one slice for it.
- An utterance longer than `max_utterance_ms` is cut: its text comes as `is_final=True,
  speech_final=False` (Deepgram's convention: the session concatenates finals until speech_final).

Vocabulary biasing
pocketsphinx cannot interpolate language models from Python, so with `STTOptions.vocabulary` the
stream runs two decoders on the same audio: the general model (en-us trigram, 1 s / 95 MB per
decoder, pooled across calls) and a small domain model built from the vocabulary
(`sphinx_lm.py`, 30 ms / 9 MB, per stream). Each result takes the hypothesis with the better
path score, the domain one getting `domain_bias` log-units of advantage: a sentence-level mixture
of the two models. In-vocabulary speech gets the domain model's accuracy, speech outside it still
decodes with the general model. `python -m calls.realtime.wer` measures it.

Phone line
Both decoders load the acoustic model with `PHONE_BAND_MLLR`, a transform of its means to 8 kHz
µ-law speech (the model was trained on 16 kHz microphones); see `devtools/phone_band_adaptation.py`.

Expected answers
When the agent's question expects particular answers (`expect`: a yes or a no, the options of a
choice, days and times; the offline brain says which), the domain decoder switches, from the
next utterance on, to a search whose model is the vocabulary's with those phrases weighted up to
about half of its sentences (names after "What is your name?" are heard only then; a closed
choice of a few options weighs four fifths). The model is built once
per process and set of phrases; each stream adds it to its own decoder as another search (no new
decoder, no new acoustic model). `expect(())` goes back to the vocabulary's own model.

Cost: the general decoder is the expensive part (about 0.4x real time of one core while the
caller speaks, the domain decoder about 0.15x); silence is not decoded. A stream holds one general
decoder for the call's life.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import hashlib
import logging
import math
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from calls.realtime.audio import SAMPLE_RATE, Upsampler2x, ulaw_to_pcm16
from calls.realtime.providers.stt.base import (
    STTOptions,
    STTProvider,
    STTStream,
    Transcript,
    drain_results,
)
from calls.realtime.providers.stt.sphinx_lm import (
    DomainModel,
    Lexicon,
    shared_lexicon,
    write_domain_model,
)

if TYPE_CHECKING:
    from pocketsphinx import Decoder

logger = logging.getLogger(__name__)

# Cepstral mean of phone-band speech upsampled to 16 kHz, measured on held-out phrases (hibari
# and espeak-ng voices, not the WER sentences). The stock init (40,3,-1) is for wideband
# microphones; starting from this one makes the first utterance of a call as good as the rest.
PHONE_BAND_CMN_INIT = (
    "49.518,25.852,-36.2877,42.9555,-28.8221,0.167873,10.222,-27.6434,14.1038,-17.82,3.0705,"
    "3.27138,-17.9167"
)
# The acoustic model's means adapted to the phone line (8 kHz µ-law heard through soxr's 8 -> 16
# kHz filter, whose samples `Upsampler2x` reproduces within one LSB): one MLLR transform
# estimated from seven voices `make eval` never uses, built by
# `python -m devtools.phone_band_adaptation`. Applied once when a decoder loads (no per-frame
# cost); in-domain WER of both evaluation voices (held out from it) fell 10-33 % (docs/quality.md).
PHONE_BAND_MLLR = str(Path(__file__).with_name("phone_band.mllr"))
# Active HMMs per frame in the general decoder: 3000 halves its CPU (30000 is the default) with no
# measurable WER change on phone-band speech.
GENERAL_MAX_HMM_PER_FRAME = 3000
# pocketsphinx's second, flat-lexicon search over the whole utterance when it ends: off. It was
# ~145 ms of the ~155 ms an utterance's end costs (both decoders), in one call that holds the GIL,
# so every answer waited for it after the caller's pause and every call on the process lost its
# event loop for as long; without it the end costs ~10 ms. Measured on the evaluation sets
# (docs/quality.md, "Answers sooner"): hibari's WER 1.5-2.7 points higher on five sets of six,
# espeak's 2-9 points lower on five of six, 13 more intents understood over the twelve.
FLAT_SECOND_PASS = False
BACKGROUND_WORDS = 2000  # most frequent general-model words mixed into every domain model
MAX_EXPECTATION_SEARCHES = 6  # per stream: a call asks few different questions
# Expected answers this few are a closed choice ("low, normal or urgent?"): the caller almost
# always says one, so they weigh this many times the vocabulary ("Low." was heard as "my" at
# an even share, "low" at four times).
CLOSED_CHOICE_MAX = 6
CLOSED_CHOICE_SHARE = 4
MAX_IDLE_GENERAL_DECODERS = 4
# The recogniser ends an utterance itself after this much of the caller's silence: the time its
# decoders take to finish then overlaps the session's end-of-turn wait, and the silence after
# it is not decoded (decoding the session's 700 ms of it made the words worse, stray words after
# the caller's last). Speech after the pause is a new utterance of the same turn, whose words
# follow. 0 = only the session's finalize ends an utterance.
ENDPOINT_SILENCE_MS = 200
# Audio per decoding job once the caller has gone quiet mid-utterance: the endpoint above is
# found within this much of being reached, not within a whole `chunk_ms` (200 ms: on average
# 100 ms later, and the words-aware end of turn waits for those words). Jobs return to
# `chunk_ms` as soon as the caller speaks again; a pause costs at most a few extra small jobs.
QUIET_CHUNK_MS = 40
# 16 kHz samples per `process_raw` (40 ms): the longest the decoders hold the GIL at a time is
# one slice's decoding (~15 ms for the general decoder), not a whole job's (~100 ms for 200 ms
# of speech, which delayed every call's outbound audio on the process by as much).
DECODE_SLICE_SAMPLES = 640

# Bounded pool: decoding is CPU-bound C code, more threads than cores would only queue.
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="sphinx")
_FINALIZE = object()


class _Expectation:
    """A stream job: the answers the agent's question expects (`PocketsphinxStream.expect`)."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        self.phrases = phrases


def _log_score(hypothesis: Any) -> float:
    # The binding returns exp(path score) in base 1.0001; compare in log units.
    if hypothesis is None or hypothesis.score <= 0.0:
        return -math.inf
    return math.log(hypothesis.score) / math.log(1.0001)


class _Models:
    """Process-wide pocketsphinx state: idle general decoders, the lexicon, domain models."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[Decoder] = []
        self._background: dict[str, float] | None = None
        self._domain_models: dict[str, DomainModel] = {}
        # One build at a time: calls that open together (five callers of one agent, one
        # question asked on each) would otherwise rewrite the same files while another's
        # decoder reads them, and that decoder hears nothing for the whole call.
        self._build_lock = threading.Lock()
        self._directory: str | None = None

    @staticmethod
    def _new_general_decoder() -> Decoder:
        from pocketsphinx import Decoder

        return Decoder(loglevel="ERROR", maxhmmpf=GENERAL_MAX_HMM_PER_FRAME, mllr=PHONE_BAND_MLLR,
                       fwdflat=FLAT_SECOND_PASS)

    def acquire_general(self) -> Decoder:
        """An idle general decoder, or a new one (blocking: call from a worker thread)."""
        with self._lock:
            if self._idle:
                decoder = self._idle.pop()
                decoder.set_cmn(PHONE_BAND_CMN_INIT)
                return decoder
        decoder = self._new_general_decoder()
        decoder.set_cmn(PHONE_BAND_CMN_INIT)
        return decoder

    def release_general(self, decoder: Decoder) -> None:
        with self._lock:
            if len(self._idle) < MAX_IDLE_GENERAL_DECODERS:
                self._idle.append(decoder)

    def _background_unigrams(self) -> dict[str, float]:
        if self._background is None:
            lexicon = self.lexicon()
            decoder = self.acquire_general()  # exclusive: the LM's lookup cache is not shared
            try:
                lm = decoder.get_lm()
                ranked = sorted(((lm.prob([w]), w) for w in lexicon), reverse=True)
            finally:
                self.release_general(decoder)
            self._background = {w: 1.0001**score for score, w in ranked[:BACKGROUND_WORDS]}
        return self._background

    @staticmethod
    def lexicon() -> Lexicon:
        from pocketsphinx import get_model_path

        return shared_lexicon(get_model_path("en-us/cmudict-en-us.dict"))

    def domain_decoder(self, vocabulary: Sequence[str]) -> tuple[Decoder, DomainModel]:
        """A fresh decoder on the vocabulary's domain model (files cached per vocabulary)."""
        from pocketsphinx import Decoder

        model = self.domain_model(vocabulary)
        decoder = Decoder(loglevel="ERROR", lm=model.arpa_path, dict=model.dict_path,
                          mllr=PHONE_BAND_MLLR, fwdflat=FLAT_SECOND_PASS)
        decoder.set_cmn(PHONE_BAND_CMN_INIT)
        return decoder, model

    def domain_model(self, vocabulary: Sequence[str]) -> DomainModel:
        """The vocabulary's domain model files, built once per process and vocabulary."""
        key = hashlib.sha1("\n".join(vocabulary).encode()).hexdigest()[:16]
        with self._lock:
            model = self._domain_models.get(key)
        if model is not None:
            return model
        with self._build_lock:
            with self._lock:  # built while this thread waited for the build lock?
                model = self._domain_models.get(key)
            if model is None:
                if self._directory is None:
                    self._directory = tempfile.mkdtemp(prefix="aybiza-sphinx-")
                    atexit.register(shutil.rmtree, self._directory, ignore_errors=True)
                model = write_domain_model(vocabulary, self.lexicon(), self._background_unigrams(),
                                           self._directory, key)
                with self._lock:
                    self._domain_models[key] = model
        return model


_MODELS = _Models()


class _Recognizer:
    """The thread side of one stream. Only one of its methods runs at a time (one job in flight)."""

    def __init__(
        self,
        general: Decoder | None,
        domain: Decoder | None,
        *,
        vocabulary: Sequence[str] = (),
        known_words: frozenset[str] = frozenset(),
        domain_bias: float,
        vad_aggressiveness: int,
        preroll_ms: int,
        max_utterance_ms: int,
        endpoint_silence_ms: int,
        interim_results: bool,
    ) -> None:
        import webrtcvad

        self.general = general
        self.domain = domain
        self._decoders = [d for d in (general, domain) if d is not None]
        self._domain_bias = domain_bias
        self._vad = webrtcvad.Vad(vad_aggressiveness)
        self._preroll: deque[np.ndarray] = deque(maxlen=max(1, preroll_ms // 20))
        self._max_utterance_samples = max_utterance_ms * SAMPLE_RATE // 1000
        self._endpoint_samples = endpoint_silence_ms * SAMPLE_RATE // 1000
        self._silent_samples = 0  # the caller's silence so far at the end of the utterance
        # The utterance ended at the caller's pause (`endpoint_silence_ms`), kept for the
        # session's finalize; speech before that joins it.
        self._paused: Transcript | None = None
        self.interim_results = interim_results
        self._resampler = Upsampler2x()
        self._in_utterance = False
        self._stream_samples = 0  # 8 kHz samples received since the stream opened
        self._utterance_start = 0
        self._utterance_samples = 0
        self.reusable = True
        self.decode_seconds = 0.0  # wall time of this stream's jobs (for measurements)
        # Expected answers (`expect`): a search of the domain decoder per set of phrases, the
        # vocabulary's model with those phrases weighted up; activated between utterances.
        self._vocabulary = list(vocabulary)
        # Words in the domain decoder's dictionary: an expectation's own words (the names
        # after "What name ...?") are added to it, or its model could never yield them.
        self._known_words = set(known_words)
        self._expected: tuple[str, ...] = ()
        self._searches: dict[tuple[str, ...], str] = {}
        self._wanted_search: str | None = None  # None: the vocabulary's own model
        self._active_search: str | None = None

    @property
    def awaiting_endpoint(self) -> bool:
        """In an utterance and the caller has gone quiet: its end may come with the next audio."""
        return self._in_utterance and self._silent_samples > 0

    # -- jobs -------------------------------------------------------------------------------
    def process(self, ulaw: bytes) -> list[Transcript]:
        started = time.perf_counter()
        try:
            return self._process(ulaw)
        finally:
            self.decode_seconds += time.perf_counter() - started

    def expect(self, phrases: tuple[str, ...]) -> None:
        """Lean the domain model toward `phrases` from the next utterance on (() = back to the
        vocabulary's own model). Building a new expectation's model costs tens of milliseconds,
        once per process; each stream adds it as a search of its own decoder (no new decoder)."""
        if self.domain is None or phrases == self._expected:
            return
        self._expected = phrases
        try:
            self._wanted_search = self._search_for(phrases) if phrases else None
        except (RuntimeError, OSError, KeyError):
            # A hint that cannot be built must not stop recognition: the vocabulary's own
            # model goes on (a model file gone, the decoder refusing the search).
            logger.warning("pocketsphinx: expected answers not applied", exc_info=True)
            self._wanted_search = None
        if not self._in_utterance:
            self._activate_search()

    def _search_for(self, phrases: tuple[str, ...]) -> str:
        name = self._searches.get(phrases)
        if name is None:
            if len(self._searches) >= MAX_EXPECTATION_SEARCHES:  # drop the oldest unused one
                oldest = next(p for p, n in self._searches.items() if n != self._active_search)
                self.domain.remove_search(self._searches.pop(oldest))
            # Weighted so the expected answers make about half of the model's sentences, four
            # fifths for a closed choice (the question named its few options).
            share = CLOSED_CHOICE_SHARE if len(phrases) <= CLOSED_CHOICE_MAX else 1
            weight = max(1, share * len(self._vocabulary) // len(phrases))
            model = _MODELS.domain_model([*self._vocabulary, *(list(phrases) * weight)])
            self._add_words(model.words - self._known_words)
            name = f"expect-{model.arpa_path.rsplit('/', 1)[-1].removesuffix('.arpa')}"
            self.domain.add_lm_file(name, model.arpa_path)
            self._searches[phrases] = name
        return name

    def _add_words(self, words: Iterable[str]) -> None:
        lexicon = _MODELS.lexicon()
        added = [(word, phones) for word in sorted(words)
                 for phones in lexicon.pronunciations(word)[:1]]
        for index, (word, phones) in enumerate(added):
            # One rebuild of the decoder's search for the whole batch, after its last word.
            self.domain.add_word(word, phones, update=index == len(added) - 1)
        self._known_words.update(word for word, _ in added)

    def _activate_search(self) -> None:
        if self.domain is not None and self._wanted_search != self._active_search:
            self.domain.activate_search(self._wanted_search)
            self._active_search = self._wanted_search

    def finish(self) -> Transcript:
        started = time.perf_counter()
        try:
            if self._in_utterance:
                return self._end_utterance(speech_final=True)
            self._preroll.clear()
            paused, self._paused = self._paused, None
            if paused is not None:  # ended at the caller's pause: its words are ready
                return replace(paused, speech_final=True)
            at = self._stream_samples * 1000 // SAMPLE_RATE
            return Transcript("", is_final=True, speech_final=True, start_ms=at, end_ms=at)
        finally:
            self.decode_seconds += time.perf_counter() - started

    # -- internals --------------------------------------------------------------------------
    def _process(self, ulaw: bytes) -> list[Transcript]:
        pcm = ulaw_to_pcm16(ulaw)
        position = self._stream_samples  # stream position of pcm[0]
        self._stream_samples += pcm.size
        out: list[Transcript] = []
        while pcm.size:
            if not self._in_utterance:
                speech_at = self._first_speech(pcm)
                if speech_at is None:
                    return out
                self._start_utterance(position + speech_at)
                position += speech_at
                pcm = pcm[speech_at:]
                preroll = list(self._preroll)
                self._preroll.clear()
                if preroll:
                    self._feed_decoders(np.concatenate(preroll))
            end = self._endpoint(pcm)
            if end is not None:
                # The caller has been quiet long enough: end the utterance now, while the session
                # still waits out its end-of-turn silence, so that the words are ready when it
                # finalizes (ending an utterance is the recogniser's last step). They are kept
                # for that finalize; more speech first joins them.
                self._feed_decoders(pcm[:end])
                self._paused = self._end_utterance(speech_final=False)
                if self._paused.text and self.interim_results:
                    out.append(replace(self._paused, is_final=False, extra={}))
                pcm = pcm[end:]
                position += end
                continue
            self._feed_decoders(pcm)
            if self._utterance_samples >= self._max_utterance_samples:
                out.append(self._end_utterance(speech_final=False))
            elif self.interim_results:
                text, _, _, readings, start_ms = self._words()
                if text:
                    # After every chunk, changed or not: `end_ms` says how much of the caller's
                    # audio the words cover (the session's words-aware end of turn judges only
                    # words that cover the caller's last sound).
                    out.append(Transcript(text, is_final=False, start_ms=start_ms,
                                          end_ms=self._ms(self._stream_samples),
                                          alternatives=readings))
            break
        return out

    def _words(self) -> tuple[str, str, float | None, tuple[str, ...], int]:
        """`_best()` of the utterance so far, after the words of the one ended at the caller's
        pause (if any), and the start of the first of them in ms."""
        text, model, confidence, readings = self._best()
        paused = self._paused
        if paused is None or not paused.text:
            return text, model, confidence, readings, self._ms(self._utterance_start)
        if confidence is not None and paused.confidence is not None:
            confidence = min(confidence, paused.confidence)
        return (f"{paused.text} {text}".strip(), model, confidence,
                tuple(f"{paused.text} {reading}" for reading in readings), paused.start_ms)

    def _voiced(self, pcm: np.ndarray) -> Iterator[tuple[int, np.ndarray, bool]]:
        """(offset, frame, is speech) for each whole 20 ms frame of `pcm`."""
        for offset in range(0, pcm.size - 159, 160):
            frame = pcm[offset : offset + 160]
            yield offset, frame, self._vad.is_speech(frame.tobytes(), SAMPLE_RATE)

    def _endpoint(self, pcm: np.ndarray) -> int | None:
        """Index in `pcm` where the caller's silence reaches `endpoint_samples`, else None."""
        if not self._endpoint_samples:
            return None
        for offset, frame, speech in self._voiced(pcm):
            self._silent_samples = 0 if speech else self._silent_samples + frame.size
            if self._silent_samples >= self._endpoint_samples:
                return offset + frame.size
        return None

    def _first_speech(self, pcm: np.ndarray) -> int | None:
        """Index of the first 20 ms speech frame in `pcm`; keep the frames before as preroll."""
        for offset, frame, speech in self._voiced(pcm):
            if speech:
                return offset
            self._preroll.append(frame)
        return None

    def _start_utterance(self, speech_start: int) -> None:
        preroll_samples = sum(frame.size for frame in self._preroll)
        self._utterance_start = max(0, speech_start - preroll_samples)
        self._utterance_samples = 0
        self._silent_samples = 0
        self._resampler = Upsampler2x()
        self._activate_search()
        for decoder in self._decoders:
            decoder.start_utt()
        self._in_utterance = True

    def _feed_decoders(self, pcm: np.ndarray) -> None:
        self._utterance_samples += pcm.size
        wideband = self._resampler.process(pcm)
        # In slices: pocketsphinx holds the GIL for a whole `process_raw`, and the event loop
        # (every call's audio on this process) waits for it. The words do not change with how
        # the samples are split (the decoder frames them itself).
        for start in range(0, wideband.size, DECODE_SLICE_SAMPLES):
            piece = wideband[start : start + DECODE_SLICE_SAMPLES].tobytes()
            for decoder in self._decoders:
                decoder.process_raw(piece)

    def _end_utterance(self, *, speech_final: bool) -> Transcript:
        tail = self._resampler.flush().tobytes()
        for decoder in self._decoders:
            if tail:
                decoder.process_raw(tail)
            decoder.end_utt()
        self._in_utterance = False
        text, model, confidence, readings, start_ms = self._words()
        self._paused = None
        return Transcript(
            text,
            is_final=True,
            speech_final=speech_final,
            confidence=confidence,
            start_ms=start_ms,
            end_ms=self._ms(self._utterance_start + self._utterance_samples),
            alternatives=readings,
            extra={"model": model},
        )

    def _best(self) -> tuple[str, str, float | None, tuple[str, ...]]:
        """(text, "general"|"domain", posterior, the other decoder's reading if it differs)
        of the better-scoring decoder. The two models often disagree about the last words
        before a pause: the other reading lets the session's end-of-turn check see both."""
        general = self.general.hyp() if self.general is not None else None
        domain = self.domain.hyp() if self.domain is not None else None
        use_domain = domain is not None and (
            general is None or _log_score(domain) + self._domain_bias >= _log_score(general)
        )
        chosen, model, other = ((domain, "domain", general) if use_domain
                                else (general, "general", domain))
        if chosen is None:
            return "", model, None, ()
        text = chosen.hypstr.strip()
        reading = other.hypstr.strip() if other is not None else ""
        if not reading or reading == text or self._same_sound_cut_short(text, reading):
            return text, model, float(chosen.prob), ()
        return text, model, float(chosen.prob), (reading,)

    def _same_sound_cut_short(self, text: str, reading: str) -> bool:
        """Whether `reading` ends on fewer of the same sounds as `text` ("when you're opening
        our" for "what are your opening hours": AW ER of AW ER Z). The better model heard the
        last word's end; the weaker one put it down to noise and spelled the rest its own way.
        That says nothing about the caller going on, so it is not passed on as a doubt about
        the end of the turn (which it was every time a question ended on "hours"). Readings
        of the very same sounds stay two ("for two" / "for to": the sound cannot tell whether
        more follows), as do "my name it" / "my name is" (IH T / IH Z) and one that goes on."""
        said, other = text.split(), reading.split()
        if not said or not other:
            return False
        decoder = self.general or self.domain
        if decoder is None:
            return False
        said_phones, other_phones = decoder.lookup_word(said[-1]), decoder.lookup_word(other[-1])
        if not said_phones or not other_phones:
            return False
        heard, cut = said_phones.split(), other_phones.split()
        return len(cut) < len(heard) and heard[:len(cut)] == cut

    @staticmethod
    def _ms(samples: int) -> int:
        return samples * 1000 // SAMPLE_RATE

    def release(self) -> None:
        """Return the general decoder to the process pool (the domain one is just dropped)."""
        if self.general is not None:
            if self.reusable:
                if self._in_utterance:
                    self.general.end_utt()
                _MODELS.release_general(self.general)
            self.general = None
        self.domain = None
        self._decoders = []


class PocketsphinxStream(STTStream):
    """One call's pocketsphinx recognition. Create with `PocketsphinxSTT.open_stream`."""

    def __init__(self, recognizer: _Recognizer, chunk_bytes: int) -> None:
        self._recognizer = recognizer
        self._chunk_bytes = chunk_bytes
        self._quiet_chunk_bytes = min(chunk_bytes, QUIET_CHUNK_MS * SAMPLE_RATE // 1000)
        self._awaiting_endpoint = False  # the last job left the caller quiet mid-utterance
        self.hears_words_while_speaking = recognizer.interim_results
        self._pending = bytearray()
        self._jobs: deque[Any] = deque()  # bytes chunks and _FINALIZE, in arrival order
        self._wake = asyncio.Event()
        # Transcripts, then None at the end; an exception from a decoding job is re-raised.
        self._results: asyncio.Queue[Transcript | BaseException | None] = asyncio.Queue()
        self._closing = False
        self._inflight: concurrent.futures.Future | None = None
        self._worker = asyncio.get_running_loop().create_task(self._run())

    @property
    def decode_seconds(self) -> float:
        """Wall-clock seconds this stream's decoding jobs took so far."""
        return self._recognizer.decode_seconds

    def feed(self, ulaw: bytes) -> None:
        if self._closing:
            return
        self._pending += ulaw
        chunk = self._quiet_chunk_bytes if self._awaiting_endpoint else self._chunk_bytes
        if len(self._pending) >= chunk:
            self._jobs.append(bytes(self._pending))
            self._pending.clear()
            self._wake.set()

    def finalize(self) -> None:
        if self._closing:
            return
        if self._pending:
            self._jobs.append(bytes(self._pending))
            self._pending.clear()
        self._jobs.append(_FINALIZE)
        self._wake.set()

    def expect(self, phrases: Sequence[str]) -> None:
        if not self._closing:
            # In order with the audio: it applies from the next utterance that starts.
            self._jobs.append(_Expectation(tuple(p for p in phrases if p.strip())))
            self._wake.set()

    def transcripts(self) -> AsyncIterator[Transcript]:
        """Results until the stream closes; a decoding failure is raised here."""
        return drain_results(self._results)

    async def aclose(self) -> None:
        self._closing = True
        self._jobs.clear()  # audio not decoded yet is dropped, not decoded for nobody
        if not self._worker.done():
            # Returns at once: a job still running hands its decoders back when it ends.
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    async def _call(self, fn: Any, *args: Any) -> Any:
        self._inflight = _EXECUTOR.submit(fn, *args)
        try:
            return await asyncio.wrap_future(self._inflight)
        finally:
            if self._inflight.done():
                self._inflight = None

    async def _run(self) -> None:
        recognizer = self._recognizer
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._jobs and not self._closing:
                    job = self._jobs.popleft()
                    if job is _FINALIZE:
                        self._results.put_nowait(await self._call(recognizer.finish))
                        continue
                    if isinstance(job, _Expectation):
                        await self._call(recognizer.expect, job.phrases)
                        continue
                    # Behind schedule: decode all the audio queued up to the next other job.
                    while self._jobs and isinstance(self._jobs[0], bytes):
                        job += self._jobs.popleft()
                    for transcript in await self._call(recognizer.process, job):
                        self._results.put_nowait(transcript)
                    # Read between jobs (none in flight): smaller jobs while the caller is quiet.
                    self._awaiting_endpoint = recognizer.awaiting_endpoint
                if self._closing:
                    return
        except Exception as exc:  # surfaced to the reader instead of dying silently
            recognizer.reusable = False  # a decoder that raised is not handed to another call
            self._results.put_nowait(exc)
        finally:
            inflight = self._inflight
            if inflight is not None and not inflight.done():
                # Cancelled mid-job: the decoders are still in use until that job returns.
                inflight.add_done_callback(lambda _: recognizer.release())
            else:
                recognizer.release()
            self._results.put_nowait(None)


class PocketsphinxSTT(STTProvider):
    """Embedded recogniser. English only; input is 8 kHz µ-law.

    chunk_ms: audio batched per decoding job (latency of interims vs. per-job overhead).
    domain_bias: log-score advantage (base 1.0001) of the vocabulary model over the general one.
    use_general_model: False decodes with the vocabulary model alone (about 4x cheaper; speech
        outside the vocabulary then comes out as the nearest in-vocabulary words).
    endpoint_silence_ms: the caller's silence after which the recogniser ends the utterance
        itself and keeps its words for the finalize (0: only the finalize ends it).
    """

    name = "pocketsphinx"

    def __init__(
        self,
        *,
        chunk_ms: int = 200,
        domain_bias: float = 500.0,
        use_general_model: bool = True,
        interim_results: bool = True,
        vad_aggressiveness: int = 2,
        preroll_ms: int = 300,
        max_utterance_ms: int = 30_000,
        endpoint_silence_ms: int = ENDPOINT_SILENCE_MS,
    ) -> None:
        if chunk_ms < 20:
            raise ValueError("chunk_ms must be at least one 20 ms frame")
        if endpoint_silence_ms < 0:
            raise ValueError("endpoint_silence_ms must be 0 (off) or a silence in milliseconds")
        self.chunk_ms = chunk_ms
        self.domain_bias = domain_bias
        self.use_general_model = use_general_model
        self.interim_results = interim_results
        self.vad_aggressiveness = vad_aggressiveness
        self.preroll_ms = preroll_ms
        self.max_utterance_ms = max_utterance_ms
        self.endpoint_silence_ms = endpoint_silence_ms

    async def warmup(self, vocabulary: Sequence[str] = ()) -> None:
        """Load a general decoder (and the domain model of `vocabulary`) before the first call."""
        loop = asyncio.get_running_loop()
        decoder = await loop.run_in_executor(_EXECUTOR, _MODELS.acquire_general)
        _MODELS.release_general(decoder)
        if vocabulary:
            await loop.run_in_executor(_EXECUTOR, _MODELS.domain_decoder, list(vocabulary))

    def _recognizer(self, vocabulary: list[str]) -> _Recognizer:
        domain, model = _MODELS.domain_decoder(vocabulary) if vocabulary else (None, None)
        general = _MODELS.acquire_general() if self.use_general_model or domain is None else None
        return _Recognizer(
            general,
            domain,
            vocabulary=vocabulary,
            known_words=model.words if model is not None else frozenset(),
            domain_bias=self.domain_bias,
            vad_aggressiveness=self.vad_aggressiveness,
            preroll_ms=self.preroll_ms,
            max_utterance_ms=self.max_utterance_ms,
            endpoint_silence_ms=self.endpoint_silence_ms,
            interim_results=self.interim_results,
        )

    async def open_stream(self, options: STTOptions) -> PocketsphinxStream:
        if options.sample_rate != SAMPLE_RATE:
            raise ValueError(f"pocketsphinx streams take 8 kHz µ-law, got {options.sample_rate} Hz")
        if not options.language.lower().startswith("en"):
            raise ValueError(f"pocketsphinx has an English model only, got {options.language!r}")
        loop = asyncio.get_running_loop()
        recognizer = await loop.run_in_executor(
            _EXECUTOR, self._recognizer, [p for p in options.vocabulary if p.strip()]
        )
        return PocketsphinxStream(recognizer, chunk_bytes=self.chunk_ms * SAMPLE_RATE // 1000)

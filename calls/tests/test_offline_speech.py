"""Offline speech providers: pocketsphinx STT, hibari and espeak-ng TTS, the instant fakes, WER.

Plain Python, no Django. Audio is synthesised locally and brought to what Twilio delivers
(8 kHz µ-law); nothing reaches the network.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import time

import numpy as np
import pytest

from calls.realtime import audio
from calls.realtime.providers.stt.base import STTOptions, Transcript
from calls.realtime.providers.stt.instant import InstantSTT
from calls.realtime.providers.stt.sphinx_lm import Lexicon, build_arpa, normalize_words
from calls.realtime.providers.tts.base import TTSOptions
from calls.realtime.providers.tts.instant import InstantTTS
from calls.realtime.wer import (
    BUSINESS_VOCABULARY,
    IN_DOMAIN_SENTENCES,
    phone_band,
    transcribe_turns,
    word_error_rate,
    word_errors,
)

SILENCE = bytes([audio.ULAW_SILENCE]) * audio.FRAME_BYTES
# The stream tests check how results come (interims, finals, pauses), not accuracy (the WER sets
# of `make eval` measure it): that the sentence was heard, not noise, is this close.
HEARD = 0.4
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="no espeak-ng")


async def collect(generator) -> list[bytes]:
    return [chunk async for chunk in generator]


async def next_transcript(stream, timeout: float = 20.0) -> Transcript:
    iterator = stream.transcripts().__aiter__()
    return await asyncio.wait_for(iterator.__anext__(), timeout)


def loud_frame(level: int = 8000) -> bytes:
    t = np.arange(160) / 8000
    return audio.pcm16_to_ulaw((level * np.sin(2 * math.pi * 300 * t)).astype(np.int16))


# --- WER ------------------------------------------------------------------------------------------
def test_word_errors_counts_substitutions_insertions_and_deletions():
    assert word_errors(["a", "b", "c", "d"], ["a", "b", "c", "d"]) == 0
    assert word_errors(["a", "b", "c", "d"], ["a", "x", "c", "d"]) == 1  # substitution
    assert word_errors(["a", "b", "c", "d"], ["a", "b", "c", "d", "e"]) == 1  # insertion
    assert word_errors(["a", "b", "c", "d"], ["a", "c", "d"]) == 1  # deletion
    assert word_errors(["a", "b", "c", "d"], []) == 4
    assert word_errors([], ["a", "b"]) == 2
    assert word_errors(["the", "cat", "sat"], ["cat", "sat", "on", "the"]) == 3


def test_word_error_rate_normalises_case_punctuation_and_numbers():
    assert word_error_rate("Open at 3:30, OK?", "open at three thirty ok") == 0.0
    assert word_error_rate("book an appointment", "book the appointment") == pytest.approx(1 / 3)
    assert word_error_rate("", "") == 0.0
    assert word_error_rate("", "noise") == 1.0


def test_word_error_rate_scores_two_spellings_of_one_word_as_the_same():
    assert word_error_rate("ok, talk to you later", "okay talk to you later") == 0.0
    assert word_error_rate("how much is a checkup", "how much is a check up") == 0.0
    assert word_error_rate("ok", "oak") == 1.0


def test_normalize_words_spells_numbers_as_callers_say_them():
    assert normalize_words("10am & 1,250 people") == (
        ["ten", "am", "and", "one", "thousand", "two", "hundred", "fifty", "people"]
    )
    assert normalize_words("I'd like 21 O'Clock") == ["i'd", "like", "twenty", "one", "o'clock"]


# --- the vocabulary language model ----------------------------------------------------------------
def parse_arpa(text: str) -> tuple[dict, dict, dict]:
    grams: list[dict] = [{}, {}, {}]
    order = 0
    for line in text.splitlines():
        if line.startswith("\\") and "-grams:" in line:
            order = int(line[1])
        elif order and line.strip() and not line.startswith("\\"):
            parts = line.split()
            words = tuple(parts[1 : 1 + order])
            backoff = float(parts[1 + order]) if len(parts) > 1 + order else 0.0
            grams[order - 1][words] = (float(parts[0]), backoff)
    return grams[0], grams[1], grams[2]


def test_vocabulary_language_model_is_a_proper_distribution():
    # given a model from two phrases with a small background vocabulary
    arpa = build_arpa(
        [["book", "an", "appointment"], ["book", "a", "table"]],
        background={"the": 0.6, "a": 0.3, "yes": 0.1},
    )
    unigrams, bigrams, _ = parse_arpa(arpa)
    vocabulary = [w for (w,) in unigrams if w != "<s>"]
    # then unigram probabilities sum to one
    assert sum(10 ** unigrams[(w,)][0] for w in vocabulary) == pytest.approx(1.0, abs=1e-3)

    # and so does P(w | "book") once back-off is applied
    def p_given_book(word: str) -> float:
        if ("book", word) in bigrams:
            return 10 ** bigrams[("book", word)][0]
        return 10 ** unigrams[("book",)][1] * 10 ** unigrams[(word,)][0]

    assert sum(p_given_book(w) for w in vocabulary) == pytest.approx(1.0, abs=1e-3)
    # and the phrases' own continuations dominate
    assert p_given_book("an") > p_given_book("the")


# --- pocketsphinx ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def caller_turns() -> dict[str, bytes]:
    sentences = list(IN_DOMAIN_SENTENCES[:4])  # callers' questions to a salon

    async def speak() -> dict[str, bytes]:
        return {s: await phone_band(s, "hibari", seed=i) for i, s in enumerate(sentences)}

    return asyncio.run(speak())


@pytest.mark.asyncio
async def test_pocketsphinx_transcribes_phone_band_speech_better_with_vocabulary(caller_turns):
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    # given the recogniser and phone-band (8 kHz µ-law) caller turns
    provider = PocketsphinxSTT()
    references = list(caller_turns)
    turns = list(caller_turns.values())
    # when transcribed without and with the agent's vocabulary
    general, _ = await transcribe_turns(provider, turns)
    biased, _ = await transcribe_turns(provider, turns, BUSINESS_VOCABULARY)

    def wer(texts: list[str]) -> float:
        pairs = zip(references, texts, strict=True)
        errors = sum(word_errors(r.split(), t.split()) for r, t in pairs)
        return errors / sum(len(r.split()) for r in references)

    # then the biased transcript is close, and better than the general model's
    assert wer(biased) <= 0.25, biased
    assert wer(biased) < wer(general), (general, biased)


def _general_model_reads(decoder, turns: list[bytes]) -> list[str]:
    from calls.realtime.providers.stt.pocketsphinx import PHONE_BAND_CMN_INIT

    texts = []
    for turn in turns:
        resampler = audio.Upsampler2x()
        pcm = resampler.process(audio.ulaw_to_pcm16(SILENCE * 10 + turn + SILENCE * 10))
        decoder.set_cmn(PHONE_BAND_CMN_INIT)
        decoder.start_utt()
        decoder.process_raw(np.concatenate([pcm, resampler.flush()]).tobytes(), full_utt=True)
        decoder.end_utt()
        texts.append(decoder.hyp().hypstr if decoder.hyp() else "")
    return texts


@pytest.mark.asyncio
async def test_the_acoustic_model_is_adapted_to_the_phone_line():
    from pocketsphinx import Decoder

    from calls.realtime.providers.stt.pocketsphinx import _MODELS, PHONE_BAND_MLLR

    # given phone-band sentences and the general model (no vocabulary to lean on)
    references = ["can i book a cleaning for next tuesday", "my laptop will not turn on",
                  "what time do you close on friday", "i would like to speak to a person"]
    turns = [await phone_band(r, "hibari") for r in references]

    def errors(texts: list[str]) -> int:
        pairs = zip(references, texts, strict=True)
        return sum(word_errors(r.split(), t.split()) for r, t in pairs)

    # when decoded with the model as shipped and with the phone-line transform
    stock = _general_model_reads(Decoder(loglevel="ERROR"), turns)
    adapted = _general_model_reads(Decoder(loglevel="ERROR", mllr=PHONE_BAND_MLLR), turns)

    # then the adapted model gets fewer words wrong, and the recogniser's decoders use it
    assert errors(adapted) < errors(stock), (stock, adapted)
    decoder = _MODELS.acquire_general()
    try:
        assert decoder.config["mllr"] == PHONE_BAND_MLLR
    finally:
        _MODELS.release_general(decoder)


def test_the_lexicon_adds_the_pronunciations_cmudict_lacks(tmp_path):
    cmudict = tmp_path / "cmudict.dict"
    cmudict.write_text("vegan V EH G AH N\nsunday S AH N D EY\nsunday(2) S AH N D IY\n")
    lexicon = Lexicon(str(cmudict), extra={"vegan": ("V IY G AH N",), "sunday": ("S AH N D IY",)},
                      weak_first_s=())
    assert lexicon.pronunciations("vegan") == ["V EH G AH N", "V IY G AH N"]
    assert lexicon.pronunciations("sunday") == ["S AH N D EY", "S AH N D IY"]  # no duplicate
    weak = Lexicon(str(cmudict), extra={}, weak_first_s=["sunday", "vegan"])
    assert weak.pronunciations("sunday") == ["S AH N D EY", "S AH N D IY", "TH AH N D EY",
                                             "TH AH N D IY"]
    assert weak.pronunciations("vegan") == ["V EH G AH N"]  # no /s/ to weaken
    assert "vegan(2) V IY G AH N\n" in lexicon.dictionary_text(["vegan"])


@pytest.mark.asyncio
async def test_pocketsphinx_hears_sunday_and_vegan_over_the_phone():
    """Over the 8 kHz band "Sunday" loses its /s/ and was heard as "monday"; "vegan" said the
    usual way was "began"."""
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    vocabulary = ["monday", "sunday", "we are closed on mondays", "open tuesday to sunday",
                  "do you have vegan dishes", "anything vegan", "a table for one"]
    lines = ["Sunday.", "A table for one on Sunday at one.", "Monday.",
             "Do you have anything vegan?"]
    turns = [await phone_band(line, "hibari") for line in lines]
    heard, _ = await transcribe_turns(PocketsphinxSTT(), turns, vocabulary)
    assert heard[0] == "sunday" and "on sunday" in heard[1], heard
    assert heard[2] == "monday", heard
    assert heard[3].endswith("vegan"), heard


@pytest.mark.asyncio
async def test_pocketsphinx_hears_the_s_the_phone_line_weakens():
    """Like Sunday's, the /s/ of "six", "seven" and "Saturday" and the final one of "it's" and
    "what's" arrive weak or not at all: "Friday at seven" was heard "friday at ten", "Saturday
    at six" "saturday at eight", "It's urgent." "it urgent", "What's the address…" "what the
    address…". The demo agents' own models."""
    from agents.demo_agents import HELP_DESK, RESTAURANT
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT
    from learning.quality.text import recogniser_vocabulary

    async def heard(demo, *lines: str) -> list[str]:
        turns = [await phone_band(line, "hibari") for line in lines]
        return (await transcribe_turns(PocketsphinxSTT(), turns, recogniser_vocabulary(demo)))[0]

    table, saturday = await heard(RESTAURANT, "I'd like to book a table for four on Friday at "
                                  "seven.", "Saturday at six.")
    assert table.endswith("friday at seven") and saturday == "saturday at six", (table, saturday)
    [urgent] = await heard(HELP_DESK, "It's urgent.")
    [address] = await heard(RESTAURANT, "What's the address?")
    assert urgent == "it's urgent" and address.startswith("what's the address"), (urgent, address)


async def _stream_through(provider, chunks: list[bytes], *, frames_per_step: int = 10,
                          step_s: float = 0.03, opened=None) -> list[Transcript]:
    """Feed `chunks` in real time-sized steps (`frames_per_step` 20 ms frames, then `step_s` for
    the decoding job to run), finalize, and return every result to the final. `opened(stream)`
    runs before the first frame."""
    stream = await provider.open_stream(STTOptions(vocabulary=list(BUSINESS_VOCABULARY)))
    if opened is not None:
        opened(stream)
    results: list[Transcript] = []

    async def read() -> None:
        async for transcript in stream.transcripts():
            results.append(transcript)
            if transcript.speech_final:
                return

    reader = asyncio.create_task(read())
    for index, frame in enumerate(audio.frames(b"".join(chunks))):
        stream.feed(frame)
        if index % frames_per_step == frames_per_step - 1:
            await asyncio.sleep(step_s)  # let the decoding job of each chunk run
    stream.finalize()
    await asyncio.wait_for(reader, 20)
    await stream.aclose()
    return results


@pytest.mark.asyncio
async def test_pocketsphinx_gives_interim_results_then_one_final(caller_turns):
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    # given a stream fed in real-time-sized chunks, as a call would, until the session decides
    # the turn ended
    provider = PocketsphinxSTT(use_general_model=False, chunk_ms=200)
    said = caller_turns["hi what time do you open tomorrow morning"]
    frames = audio.frames(said)
    results = await _stream_through(provider, [said])
    # then partial hypotheses came first and exactly one speech_final closed the turn
    interims = [r for r in results if not r.is_final]
    assert interims and all(r.text for r in interims)
    # each says how much of the audio its words cover: more each time (a 200 ms chunk, or
    # what queued meanwhile), the last reaching the end of the audio fed
    covered = [r.end_ms for r in interims]
    assert covered == sorted(set(covered)), covered
    assert covered[-1] >= len(frames) * 20 - 200
    assert [r.speech_final for r in results].count(True) == 1
    final = results[-1]
    assert final.is_final and final.speech_final
    assert word_error_rate("hi what time do you open tomorrow morning", final.text) <= HEARD
    assert final.start_ms is not None and final.end_ms > final.start_ms


@pytest.mark.asyncio
@pytest.mark.parametrize("endpoint_ms", [200, 0])
async def test_pocketsphinx_ends_the_utterance_at_the_callers_pause(caller_turns, endpoint_ms):
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    # given a caller's sentence, then 800 ms of silence before the session ends the turn
    sentence = "hi what time do you open tomorrow morning"
    fed_ms = len(caller_turns[sentence]) // 8 + 800
    provider = PocketsphinxSTT(use_general_model=False, endpoint_silence_ms=endpoint_ms)
    # when it is recognised and finalized
    results = await _stream_through(provider, [caller_turns[sentence], SILENCE * 40])
    final = results[-1]
    assert final.speech_final and word_error_rate(sentence, final.text) <= HEARD
    if endpoint_ms:
        # then the utterance ended at the pause (the silence after it was never decoded), and
        # its words came as an interim before the finalize asked for them
        assert final.end_ms < fed_ms - 500, (final.end_ms, fed_ms)
        assert [r.text for r in results[:-1] if not r.is_final][-1] == final.text
    else:  # without an endpoint the utterance runs to the finalize, as it used to
        assert final.end_ms >= fed_ms - 200


@pytest.mark.asyncio
async def test_pocketsphinx_decodes_in_small_jobs_while_the_caller_is_quiet(caller_turns):
    from calls.realtime.providers.stt.pocketsphinx import QUIET_CHUNK_MS, PocketsphinxSTT

    # given a stream whose decoding jobs are recorded, fed a sentence and 800 ms of silence at
    # the pace of a call, frame by frame
    jobs: list[tuple[int, bool]] = []

    def record_jobs(stream) -> None:
        recognizer = stream._recognizer
        decode = recognizer.process

        def recorded(ulaw: bytes):
            jobs.append((len(ulaw), recognizer.awaiting_endpoint))
            return decode(ulaw)

        recognizer.process = recorded

    said = caller_turns["hi what time do you open tomorrow morning"]
    results = await _stream_through(PocketsphinxSTT(use_general_model=False),
                                    [said, SILENCE * 40], frames_per_step=1, step_s=0.005,
                                    opened=record_jobs)
    assert results[-1].speech_final and results[-1].text
    # then the caller's speech went in 200 ms jobs, the quiet before the utterance's end in
    # 40 ms ones (its end is found within 40 ms, not 200), and the silence after in 200 ms again
    quiet = QUIET_CHUNK_MS * 8
    sizes = [size for size, _ in jobs]
    assert sizes[0] == 1600 and quiet in sizes, sizes
    assert all(waiting for size, waiting in jobs if size == quiet), jobs
    after = sizes[len(sizes) - sizes[::-1].index(quiet):]
    assert after and all(size >= 1600 for size in after[:-1]), sizes


class _RecordedDecoder:
    """A decoder that notes how many bytes each `process_raw` hands it."""

    def __init__(self, decoder, sizes: list[int]) -> None:
        self._decoder, self._sizes = decoder, sizes

    def process_raw(self, data: bytes, *args, **kwargs):
        self._sizes.append(len(data))
        return self._decoder.process_raw(data, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._decoder, name)


@pytest.mark.asyncio
async def test_pocketsphinx_decodes_in_slices_and_the_words_do_not_change(caller_turns,
                                                                           monkeypatch):
    from calls.realtime.providers.stt import pocketsphinx

    # given a sentence in the 200 ms jobs of a call, each decoder's calls recorded
    sentence = "hi what time do you open tomorrow morning"
    said = caller_turns[sentence]
    slice_samples = pocketsphinx.DECODE_SLICE_SAMPLES

    async def decode(slice_samples: int) -> tuple[str, list[int]]:
        monkeypatch.setattr(pocketsphinx, "DECODE_SLICE_SAMPLES", slice_samples)
        sizes: list[int] = []

        def record(stream) -> None:
            recognizer = stream._recognizer
            recognizer._decoders = [_RecordedDecoder(d, sizes) for d in recognizer._decoders]

        results = await _stream_through(pocketsphinx.PocketsphinxSTT(), [said, SILENCE * 20],
                                        opened=record)
        return results[-1].text, sizes

    # when it is decoded in the recogniser's slices, and in whole jobs
    sliced, sizes = await decode(slice_samples)
    whole, whole_sizes = await decode(10**9)
    # then no call gave pocketsphinx more than a slice (it holds the GIL for a whole call, and
    # the event loop of every call on the process waits for it) ...
    assert sizes and max(sizes) <= 2 * slice_samples, sizes
    assert max(whole_sizes) > 2 * slice_samples  # the check can fail
    # ... and the words are the same
    assert sliced == whole and word_error_rate(sentence, sliced) <= HEARD


@pytest.mark.parametrize(("best", "other", "same_sound"), [
    ("what are your opening hours", "when you're opening our", True),  # AW ER of AW ER Z
    ("a table for two", "a table for to", False),  # T UW both: is more to come? a doubt
    ("my name it", "my name is", False),  # IH T / IH Z: two sounds, a real doubt
    ("what are your opening hours", "what are your opening hours and", False),  # goes on
    ("call me zorblax", "call me zorb", False),  # a word the dictionary lacks: kept
])
def test_the_other_models_reading_of_the_same_last_sound_is_no_doubt(best, other, same_sound):
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    recognizer = PocketsphinxSTT()._recognizer([])
    try:
        assert recognizer._same_sound_cut_short(best, other) is same_sound
    finally:
        recognizer.release()


@pytest.mark.asyncio
async def test_pocketsphinx_speech_after_a_pause_joins_the_words_before_it():
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    # given a caller who pauses for 600 ms mid-sentence
    first, second = await phone_band("what time do you open", "hibari"), await phone_band(
        "tomorrow morning", "hibari", seed=1)
    provider = PocketsphinxSTT(use_general_model=False)
    # when the turn is recognised and finalized
    results = await _stream_through(provider, [first, SILENCE * 30, second, SILENCE * 30])
    # then one final holds both parts in order, timed from the first
    final = results[-1]
    assert [r.speech_final for r in results].count(True) == 1
    assert word_error_rate("what time do you open tomorrow morning", final.text) <= 0.25
    assert final.start_ms < len(first) // 8
    # and the words reported while the caller went on already held what came before the pause
    after_pause = [r for r in results if not r.is_final and r.end_ms > len(first) // 8 + 600]
    assert after_pause and all(r.text.startswith("what time do you open") for r in after_pause)


@pytest.mark.asyncio
async def test_pocketsphinx_finalize_without_speech_gives_an_empty_final():
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    stream = await PocketsphinxSTT().open_stream(STTOptions())
    for _ in range(50):
        stream.feed(SILENCE)
    stream.finalize()
    transcript = await next_transcript(stream)
    assert (transcript.text, transcript.is_final, transcript.speech_final) == ("", True, True)
    await stream.aclose()
    await stream.aclose()  # safe twice
    stream.feed(SILENCE)  # and feeding a closed stream is ignored
    assert [t async for t in stream.transcripts()] == []


@pytest.mark.asyncio
async def test_pocketsphinx_feed_only_buffers():
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    # given an open stream
    stream = await PocketsphinxSTT().open_stream(STTOptions())
    frame = loud_frame()
    # when 1000 frames are fed back to back on the event loop
    started = time.perf_counter()
    for _ in range(1000):
        stream.feed(frame)
    per_frame_us = (time.perf_counter() - started) * 1e6 / 1000
    await stream.aclose()
    # then feeding cost microseconds per frame: decoding happened elsewhere
    assert per_frame_us < 100


@pytest.mark.asyncio
async def test_pocketsphinx_close_does_not_wait_for_a_running_decode():
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    # given a stream busy decoding 10 s of sound
    stream = await PocketsphinxSTT().open_stream(STTOptions())
    for _ in range(500):
        stream.feed(loud_frame())
    await asyncio.sleep(0.05)  # the decoding job has started in its thread
    # when the call ends
    started = time.perf_counter()
    await stream.aclose()
    # then closing is immediate and the transcripts end
    assert time.perf_counter() - started < 0.3
    assert [t async for t in stream.transcripts()] == []


@pytest.mark.asyncio
async def test_pocketsphinx_decoding_failure_reaches_the_reader(monkeypatch):
    from calls.realtime.providers.stt import pocketsphinx

    # given a stream whose decoding job fails
    def broken(self, ulaw: bytes) -> list[Transcript]:
        raise RuntimeError("decoder exploded")

    monkeypatch.setattr(pocketsphinx._Recognizer, "process", broken)
    stream = await pocketsphinx.PocketsphinxSTT().open_stream(STTOptions())
    # when audio is decoded
    stream.feed(loud_frame())
    stream.finalize()
    # then the reader gets the error instead of waiting forever
    with pytest.raises(RuntimeError, match="exploded"):
        await next_transcript(stream)
    await stream.aclose()


@pytest.mark.asyncio
async def test_pocketsphinx_refuses_what_it_cannot_recognise():
    from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT

    with pytest.raises(ValueError, match="English"):
        await PocketsphinxSTT().open_stream(STTOptions(language="fr-FR"))
    with pytest.raises(ValueError, match="8 kHz"):
        await PocketsphinxSTT().open_stream(STTOptions(sample_rate=16000))
    with pytest.raises(ValueError, match="endpoint_silence_ms"):
        PocketsphinxSTT(endpoint_silence_ms=-1)


# --- hibari ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_hibari_yields_phone_band_speech_per_sentence():
    from calls.realtime.providers.tts.hibari import HibariTTS

    # given two sentences
    text = "Thanks for calling. We are open from nine to five."
    # when synthesised
    chunks = await collect(HibariTTS(seed=0).synthesize(text, TTSOptions()))
    # then one chunk per sentence of real speech: ~1.5-6 s of 8 kHz µ-law, well above silence
    assert len(chunks) == 2
    ulaw = b"".join(chunks)
    assert 1.5 * 8000 < len(ulaw) < 6 * 8000
    assert audio.rms_dbfs(audio.ulaw_to_pcm16(ulaw)) > -40


@pytest.mark.asyncio
async def test_hibari_speed_option_shortens_the_audio():
    from calls.realtime.providers.tts.hibari import HibariTTS

    tts = HibariTTS(seed=0)
    normal = b"".join(await collect(tts.synthesize("See you on Tuesday.", TTSOptions())))
    fast = b"".join(await collect(tts.synthesize("See you on Tuesday.", TTSOptions(speed=1.5))))
    assert len(fast) < 0.85 * len(normal)


@pytest.mark.asyncio
async def test_hibari_unknown_voices_are_refused_clearly():
    from calls.realtime.providers.tts.hibari import HibariTTS, voice_installed

    with pytest.raises(ValueError, match="unknown hibari voice"):
        HibariTTS(voice="klingon")
    with pytest.raises(ValueError, match="unknown hibari voice"):
        await collect(HibariTTS().synthesize("Hi.", TTSOptions(voice="klingon")))
    assert HibariTTS(voice="American").voice == "heart"
    if not voice_installed("emma"):  # British voices are downloads; offline they are refused
        with pytest.raises(ValueError, match="not installed"):
            HibariTTS(voice="british")


# --- espeak-ng ------------------------------------------------------------------------------------
@needs_espeak
@pytest.mark.asyncio
async def test_espeak_yields_phone_band_speech_in_chunks():
    from calls.realtime.providers.tts.espeak import EspeakTTS

    chunks = await collect(EspeakTTS().synthesize("Your table is booked.", TTSOptions()))
    ulaw = b"".join(chunks)
    assert len(chunks) >= 5  # streamed in 100 ms pieces, not one blob
    assert 0.8 * 8000 < len(ulaw) < 4 * 8000
    assert audio.rms_dbfs(audio.ulaw_to_pcm16(ulaw)) > -40


@needs_espeak
@pytest.mark.asyncio
async def test_espeak_reads_text_that_looks_like_an_option():
    from calls.realtime.providers.tts.espeak import EspeakTTS

    ulaw = b"".join(await collect(EspeakTTS().synthesize("-v fr hello", TTSOptions())))
    assert len(ulaw) > 0.5 * 8000


@needs_espeak
@pytest.mark.asyncio
async def test_espeak_unknown_voice_and_missing_binary_are_clear_errors():
    from calls.realtime.providers.tts.espeak import EspeakNotInstalled, EspeakTTS

    with pytest.raises(ValueError, match="voice"):
        await collect(EspeakTTS().synthesize("Hi.", TTSOptions(voice="xx-nope")))
    with pytest.raises(EspeakNotInstalled, match="apt-get install espeak-ng"):
        EspeakTTS(executable="espeak-ng-not-here")


@pytest.mark.asyncio
async def test_espeak_exiting_before_it_reads_the_text_is_the_same_clear_error(tmp_path):
    from calls.realtime.providers.tts.espeak import EspeakTTS

    # given an espeak-ng that refuses the voice at once, without reading its input (the pipe
    # breaks under the writer: this used to surface as BrokenPipeError, now and then)
    refusing = tmp_path / "espeak-ng"
    refusing.write_text("#!/bin/sh\necho 'Error: voice does not exist' >&2\nexit 1\n")
    refusing.chmod(0o755)
    # when it is given more text than a pipe holds
    with pytest.raises(ValueError, match="voice"):
        await collect(EspeakTTS(executable=str(refusing)).synthesize(
            "A long sentence. " * 20_000, TTSOptions(voice="xx-nope")))


@needs_espeak
@pytest.mark.asyncio
async def test_espeak_stops_its_process_when_the_consumer_stops():
    from calls.realtime.providers.tts.espeak import EspeakTTS

    # given a long text being spoken
    generator = EspeakTTS().synthesize("This is a long sentence. " * 40, TTSOptions())
    first = await generator.__anext__()
    # when the consumer stops after the first chunk (barge-in)
    started = time.perf_counter()
    await generator.aclose()
    # then it returns at once (the process was killed, not waited for)
    assert first and time.perf_counter() - started < 0.5


# --- instant fakes --------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_instant_stt_answers_the_script_after_its_latency():
    # given a scripted recogniser with 80 ms latency
    stream = await InstantSTT(["book a table", "friday"], final_latency_ms=80).open_stream(
        STTOptions()
    )
    texts = []
    for _ in range(3):
        # when the caller speaks for 200 ms and the turn is finalized
        for _ in range(10):
            stream.feed(loud_frame())
        started = time.perf_counter()
        stream.finalize()
        transcript = await next_transcript(stream)
        elapsed_ms = (time.perf_counter() - started) * 1000
        # then the next line arrives as a speech_final, no sooner than the latency
        assert transcript.speech_final and transcript.is_final
        assert 75 <= elapsed_ms < 400
        assert transcript.extra["speech_ms"] == 200
        texts.append(transcript.text)
    # and the script cycles
    assert texts == ["book a table", "friday", "book a table"]
    await stream.aclose()


@pytest.mark.asyncio
async def test_instant_stt_silence_gives_an_empty_final_and_does_not_advance_the_script():
    stream = await InstantSTT(["first", "second"], final_latency_ms=0).open_stream(STTOptions())
    for _ in range(10):
        stream.feed(SILENCE)
        stream.feed(audio.pcm16_to_ulaw(np.full(160, 300, dtype=np.int16)))  # below threshold
    stream.finalize()
    assert (await next_transcript(stream)).text == ""
    stream.feed(loud_frame())
    stream.finalize()
    assert (await next_transcript(stream)).text == "first"
    await stream.aclose()


@pytest.mark.asyncio
async def test_instant_stt_callable_script_sees_turn_and_speech_length():
    stream = await InstantSTT(lambda turn, ms: f"turn {turn} {ms}ms", final_latency_ms=0)\
        .open_stream(STTOptions())
    for _ in range(5):
        stream.feed(loud_frame())
    stream.finalize()
    assert (await next_transcript(stream)).text == "turn 0 100ms"
    await stream.aclose()


@pytest.mark.asyncio
async def test_instant_stt_close_drops_pending_answers_and_ends_transcripts():
    stream = await InstantSTT(final_latency_ms=50).open_stream(STTOptions())
    stream.feed(loud_frame())
    stream.finalize()
    await stream.aclose()
    await asyncio.sleep(0.1)
    assert [t async for t in stream.transcripts()] == []


def test_instant_stt_feed_is_nearly_free():
    async def measure() -> float:
        stream = await InstantSTT().open_stream(STTOptions())
        frame = loud_frame()
        started = time.perf_counter()
        for _ in range(10_000):
            stream.feed(frame)
        return (time.perf_counter() - started) * 1e6 / 10_000

    assert asyncio.run(measure()) < 20  # microseconds per frame, generous for a shared core


@pytest.mark.asyncio
async def test_instant_tts_honours_first_audio_latency_and_length():
    # given a fake voice: 120 ms to first audio, 60 ms per character, 100 ms chunks
    tts = InstantTTS(first_audio_ms=120, ms_per_char=60, chunk_ms=100)
    text = "Hello there!"  # 12 characters -> 720 ms
    started = time.perf_counter()
    chunks, first_at = [], None
    async for chunk in tts.synthesize(text, TTSOptions()):
        first_at = first_at or time.perf_counter() - started
        chunks.append(chunk)
    # then audio starts after the latency, lasts 720 ms, in 100 ms chunks, and is not silence
    assert 0.115 <= first_at < 0.5
    assert sum(len(c) for c in chunks) == 720 * 8
    assert [len(c) for c in chunks] == [800] * 7 + [160]
    assert audio.rms_dbfs(audio.ulaw_to_pcm16(b"".join(chunks))) > -30
    assert await collect(tts.synthesize("   ", TTSOptions())) == []


@pytest.mark.asyncio
async def test_instant_tts_caps_long_texts():
    tts = InstantTTS(first_audio_ms=0, ms_per_char=60, max_ms=1000)
    assert sum(len(c) for c in await collect(tts.synthesize("x" * 500, TTSOptions()))) == 8000


@pytest.mark.asyncio
async def test_instant_tts_stops_immediately_when_cancelled():
    # given a slow-streaming fake (one chunk every 100 ms) being consumed
    tts = InstantTTS(first_audio_ms=0, chunk_interval_ms=100, max_ms=60_000)
    received: list[bytes] = []

    async def consume() -> None:
        async for chunk in tts.synthesize("x" * 1000, TTSOptions()):
            received.append(chunk)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.25)
    # when the consumer is cancelled (barge-in)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count = len(received)
    await asyncio.sleep(0.25)
    # then no chunk arrives afterwards, and only the few before the cancel were made
    assert len(received) == count and 2 <= count <= 4

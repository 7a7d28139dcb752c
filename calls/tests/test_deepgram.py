"""Deepgram STT and TTS against the wire fake (tests/fakes/deepgram.py) with the real SDK."""

from __future__ import annotations

import asyncio

import pytest

from calls.realtime.providers.failover import ProviderError
from calls.realtime.providers.stt.base import STTOptions, Transcript
from calls.realtime.providers.stt.deepgram import DeepgramSTT, DeepgramSTTStream
from calls.realtime.providers.tts.base import TTSOptions
from calls.realtime.providers.tts.deepgram import DeepgramTTS
from tests.fakes.deepgram import FakeDeepgram, frames, silence, tone

pytest_plugins = ["tests.fakes.fixtures"]
pytestmark = pytest.mark.integration


async def feed(stream: DeepgramSTTStream, audio: bytes, *, per_batch: int = 5) -> None:
    """Feed 20 ms frames, yielding to the loop every `per_batch` frames (faster than real time)."""
    for n, frame in enumerate(frames(audio), start=1):
        stream.feed(frame)
        if n % per_batch == 0:
            await asyncio.sleep(0.002)


async def open_with_reader(fake: FakeDeepgram, options: STTOptions | None = None,
                           **kwargs) -> tuple[DeepgramSTTStream, list[Transcript], asyncio.Task]:
    stt = DeepgramSTT(**fake.provider_options(), **kwargs)
    stream = await stt.open_stream(options or STTOptions())
    results: list[Transcript] = []

    async def read() -> None:
        async for transcript in stream.transcripts():
            results.append(transcript)

    return stream, results, asyncio.create_task(read())


def finals(results: list[Transcript]) -> list[Transcript]:
    return [t for t in results if t.is_final and t.text]


# -- STT ---------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_listen_opens_nova3_mulaw_socket_with_string_flags_and_keyterms(fake_deepgram):
    # given the agent's vocabulary
    options = STTOptions(vocabulary=["Acme Dental", "reschedule"], endpointing_ms=250)

    # when a stream opens
    stream, _, reader = await open_with_reader(fake_deepgram, options)
    await stream.aclose()
    await reader

    # then the query is what Deepgram expects for Twilio audio, flags as "true" strings
    connection = fake_deepgram.listen_connections[0]
    assert connection.query == {
        "model": "nova-3", "encoding": "mulaw", "sample_rate": "8000", "channels": "1",
        "language": "en-US", "interim_results": "true", "endpointing": "250",
        "utterance_end_ms": "1000", "vad_events": "true", "smart_format": "true",
        "keyterm": ["Acme Dental", "reschedule"],
    }
    assert connection.headers["Authorization"] == "Token test-key"


@pytest.mark.asyncio
async def test_listen_yields_interims_then_speech_final_then_utterance_end(fake_deepgram):
    # given a caller who speaks for 600 ms after 200 ms of silence
    fake_deepgram.say("I need to reschedule")
    stream, results, reader = await open_with_reader(fake_deepgram)

    # when the audio and 1.2 s of silence flow
    await feed(stream, silence(200) + tone(600) + silence(1200))
    await fake_deepgram.wait_until(lambda: any(t.utterance_end for t in results))
    await stream.aclose()
    await reader

    # then interims grow, the final ends the turn, and UtteranceEnd follows without text
    interims = [t.text for t in results if not t.is_final]
    assert interims[:2] == ["I", "I need"]
    [final] = finals(results)
    assert (final.text, final.speech_final, final.confidence) == ("I need to reschedule", True,
                                                                  0.97)
    assert (final.start_ms, final.end_ms) == (200, 800)
    utterance_end = results[-1]
    assert utterance_end.utterance_end and utterance_end.text == ""
    assert utterance_end.end_ms == 800


@pytest.mark.asyncio
async def test_keepalive_is_sent_while_no_audio_flows_and_not_while_it_does(fake_deepgram):
    # given a stream with a short keep-alive interval
    stream, _, reader = await open_with_reader(fake_deepgram, keepalive_interval_s=0.1)
    connection = fake_deepgram.listen_connections[0]

    # when nothing is fed, KeepAlives arrive
    await fake_deepgram.wait_until(lambda: connection.controls.count("KeepAlive") >= 2)

    # when audio flows in real time for 0.4 s
    before = connection.controls.count("KeepAlive")
    for frame in frames(silence(400)):
        stream.feed(frame)
        await asyncio.sleep(0.02)
    during = connection.controls.count("KeepAlive") - before
    await stream.aclose()
    await reader

    # then at most the one that may have been due as the audio started went out
    assert during <= 1
    assert stream.keepalives_sent >= 2


@pytest.mark.asyncio
async def test_finalize_turns_pending_speech_into_a_final_result(fake_deepgram):
    # given speech with no trailing silence (endpointing cannot fire)
    fake_deepgram.say("yes please")
    stream, results, reader = await open_with_reader(fake_deepgram)
    await feed(stream, silence(100) + tone(400))

    # when the session decides the turn ended
    stream.finalize()
    await fake_deepgram.wait_until(lambda: bool(finals(results)))
    await stream.aclose()
    await reader

    # then Deepgram got Finalize and the words came back as a final result
    assert "Finalize" in fake_deepgram.listen_connections[0].controls
    [final] = finals(results)
    assert (final.text, final.speech_final, final.extra) == ("yes please", False,
                                                             {"from_finalize": True})


@pytest.mark.asyncio
async def test_dropped_socket_reconnects_and_replays_audio_not_yet_confirmed(fake_deepgram):
    # given the socket drops mid-word, before any final result
    fake_deepgram.say("please call me back")
    fake_deepgram.drop_listen_after_bytes = len(silence(200) + tone(300))
    audio = silence(200) + tone(600) + silence(600)
    stream, results, reader = await open_with_reader(fake_deepgram, reconnect_backoff_s=0.01)

    # when the whole utterance is fed across the drop
    await feed(stream, audio)
    await fake_deepgram.wait_until(lambda: bool(finals(results)))
    await stream.aclose()
    await reader

    # then the new socket received every byte of the call, in order, and one final came back
    first, second = fake_deepgram.listen_connections
    assert first.dropped and stream.reconnects == 1
    assert bytes(second.audio) == audio
    [final] = finals(results)
    assert (final.text, final.start_ms, final.end_ms) == ("please call me back", 200, 800)


@pytest.mark.asyncio
async def test_replay_after_reconnect_starts_after_the_last_final_result(fake_deepgram):
    # given a first utterance already confirmed by a final result
    fake_deepgram.say("first", "second one")
    part1 = silence(200) + tone(600) + silence(400)
    part2 = tone(600) + silence(600)
    stream, results, reader = await open_with_reader(fake_deepgram, reconnect_backoff_s=0.01)
    await feed(stream, part1)
    await fake_deepgram.wait_until(lambda: len(finals(results)) == 1)

    # when the socket drops in the middle of the second utterance
    fake_deepgram.drop_listen_after_bytes = len(part1) + len(tone(300))
    await feed(stream, part2)
    await fake_deepgram.wait_until(lambda: len(finals(results)) == 2)
    await stream.aclose()
    await reader

    # then only the audio after the confirmed words is replayed, and times stay call-relative
    confirmed = len(silence(200) + tone(600))
    assert bytes(fake_deepgram.listen_connections[1].audio) == (part1 + part2)[confirmed:]
    second = finals(results)[1]
    assert (second.text, second.start_ms, second.end_ms) == ("second one", 1200, 1800)


@pytest.mark.asyncio
async def test_aclose_sends_closestream_delivers_last_words_and_ends_transcripts(fake_deepgram):
    # given speech still pending when the call ends
    fake_deepgram.say("goodbye")
    stream, results, reader = await open_with_reader(fake_deepgram)
    await feed(stream, tone(300))

    # when the stream is closed (twice: the session may)
    await stream.aclose()
    await stream.aclose()
    await asyncio.wait_for(reader, 2)

    # then Deepgram got CloseStream and its last final reached the reader before the end
    assert fake_deepgram.listen_connections[0].controls[-1] == "CloseStream"
    assert [t.text for t in finals(results)] == ["goodbye"]


@pytest.mark.asyncio
@pytest.mark.parametrize(("status", "failover", "auth"),
                         [(503, True, False), (401, True, True), (403, True, True),
                          (400, False, False)])
async def test_refused_listen_socket_raises_provider_error(fake_deepgram, status, failover,
                                                           auth):
    # given Deepgram refuses the handshake
    fake_deepgram.listen_status = status

    # when a stream opens, then the error says whether another provider may take over (a
    # refused key: yes, the backup has its own) and whether credentials were refused
    with pytest.raises(ProviderError) as caught:
        await DeepgramSTT(**fake_deepgram.provider_options()).open_stream(STTOptions())
    assert (caught.value.status, caught.value.failover, caught.value.auth) == (
        status, failover, auth)
    if status == 401:  # Deepgram's explanation is kept, not just the status
        assert str(caught.value) == "deepgram: HTTP 401 INVALID_AUTH: Invalid credentials."


# -- TTS ---------------------------------------------------------------------------------------
async def speak(tts: DeepgramTTS, text: str, options: TTSOptions | None = None) -> bytes:
    return b"".join([chunk async for chunk in tts.synthesize(text, options or TTSOptions())])


@pytest.mark.asyncio
async def test_speak_reuses_one_websocket_for_the_utterances_of_a_call(fake_deepgram):
    # given a call's TTS
    tts = DeepgramTTS(**fake_deepgram.provider_options())

    # when two clauses are spoken
    first = await speak(tts, "Sure, one moment.")
    second = await speak(tts, "Your order shipped.")
    await tts.aclose()

    # then both came over one µ-law 8 kHz socket, complete, and the socket was closed
    assert first == fake_deepgram.expected_audio("Sure, one moment.")
    assert second == fake_deepgram.expected_audio("Your order shipped.")
    [connection] = fake_deepgram.speak_connections
    assert connection.query == {"model": "aura-2-thalia-en", "encoding": "mulaw",
                                "sample_rate": "8000"}
    assert [m["type"] for m in connection.messages] == ["Speak", "Flush", "Speak", "Flush",
                                                        "Close"]
    await fake_deepgram.wait_until(lambda: connection.closed)
    assert fake_deepgram.rest_requests == []


@pytest.mark.asyncio
async def test_barge_in_cancel_sends_clear_and_next_utterance_gets_no_stale_audio(fake_deepgram):
    # given a long utterance that Deepgram streams faster than the call plays it
    fake_deepgram.speak_chunk_delay_s = 0.005
    long_text = "A long answer the caller interrupts. " * 3
    tts = DeepgramTTS(**fake_deepgram.provider_options())
    received: list[bytes] = []

    async def play() -> None:
        async for chunk in tts.synthesize(long_text, TTSOptions()):
            received.append(chunk)
            await asyncio.sleep(0.03)

    task = asyncio.create_task(play())
    await fake_deepgram.wait_until(lambda: len(received) >= 2)

    # when the caller barges in (the session cancels the speaking task)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    connection = fake_deepgram.speak_connections[0]
    await fake_deepgram.wait_until(lambda: {"type": "Clear"} in connection.messages)

    # then Deepgram stopped early, and the audio already in flight is not played next
    fake_deepgram.speak_chunk_delay_s = 0.0
    assert await speak(tts, "Okay.") == fake_deepgram.expected_audio("Okay.")
    assert connection.audio_bytes_sent < len(fake_deepgram.expected_audio(long_text))
    await tts.aclose()


@pytest.mark.asyncio
async def test_closing_the_generator_mid_stream_also_sends_clear(fake_deepgram):
    # given a slowly streaming utterance
    fake_deepgram.speak_chunk_delay_s = 0.01
    tts = DeepgramTTS(**fake_deepgram.provider_options())
    audio = tts.synthesize("Interrupted right away, please.", TTSOptions())

    # when the consumer takes one chunk and closes the generator
    await anext(audio)
    await audio.aclose()

    # then Clear went out
    connection = fake_deepgram.speak_connections[0]
    await fake_deepgram.wait_until(lambda: {"type": "Clear"} in connection.messages)
    await tts.aclose()


@pytest.mark.asyncio
async def test_socket_closed_while_idle_is_reopened_for_the_next_utterance(fake_deepgram):
    # given Deepgram closes the call's socket after the first utterance (idle timeout)
    fake_deepgram.close_speak_when_idle = True
    tts = DeepgramTTS(**fake_deepgram.provider_options())
    await speak(tts, "First.")
    await fake_deepgram.wait_until(lambda: fake_deepgram.speak_connections[0].closed)

    # when the next utterance is spoken
    audio = await speak(tts, "Second.")
    await tts.aclose()

    # then a new websocket served it, not REST
    assert audio == fake_deepgram.expected_audio("Second.")
    assert len(fake_deepgram.speak_connections) == 2
    assert fake_deepgram.rest_requests == []


@pytest.mark.asyncio
async def test_speak_falls_back_to_rest_without_container_when_websocket_refused(fake_deepgram):
    # given the streaming endpoint refuses connections
    fake_deepgram.speak_ws_status = 503
    tts = DeepgramTTS(**fake_deepgram.provider_options())

    # when a clause is spoken
    audio = await speak(tts, "Hello there.")
    await tts.aclose()

    # then REST produced raw µ-law (no WAV header) for it
    assert audio == fake_deepgram.expected_audio("Hello there.")
    [request] = fake_deepgram.rest_requests
    assert request.body == {"text": "Hello there."}
    assert request.query == {"container": "none", "encoding": "mulaw", "sample_rate": "8000",
                             "model": "aura-2-thalia-en"}
    assert tts.rest_fallbacks == 1


@pytest.mark.asyncio
async def test_speak_falls_back_to_rest_when_socket_drops_before_audio(fake_deepgram):
    # given the socket dies as the text arrives
    fake_deepgram.drop_speak_on_text = True
    tts = DeepgramTTS(**fake_deepgram.provider_options())

    # when a clause is spoken
    audio = await speak(tts, "Still heard.")
    await tts.aclose()

    # then the caller still hears the whole clause, over REST
    assert audio == fake_deepgram.expected_audio("Still heard.")
    assert [r.body["text"] for r in fake_deepgram.rest_requests] == ["Still heard."]


@pytest.mark.asyncio
async def test_speak_rest_failure_raises_provider_error(fake_deepgram):
    # given both endpoints are down
    fake_deepgram.speak_ws_status = 503
    fake_deepgram.speak_rest_status = 502
    tts = DeepgramTTS(**fake_deepgram.provider_options())

    # when a clause is spoken, then the failure may fail over to another TTS
    with pytest.raises(ProviderError) as caught:
        await speak(tts, "Nobody hears this.")
    assert caught.value.failover
    await tts.aclose()


@pytest.mark.asyncio
async def test_a_long_conversation_never_hits_the_flush_limit_and_never_goes_quiet(
        fake_deepgram):
    # given a call whose agent speaks 30 turns of two clauses (60 flushes in well under 60 s)
    tts = DeepgramTTS(**fake_deepgram.provider_options())
    clauses = [f"Clause {n} of the answer." for n in range(60)]

    # when every clause is spoken
    audio = [await speak(tts, clause) for clause in clauses]
    await tts.aclose()

    # then every clause has its audio (the socket's budget spent, the rest over REST), and
    # Deepgram never had to refuse a Flush
    assert audio == [fake_deepgram.expected_audio(clause) for clause in clauses]
    assert fake_deepgram.flush_warnings == 0
    assert tts.rest_fallbacks == len(clauses) - 18


@pytest.mark.asyncio
async def test_a_warning_instead_of_audio_is_a_provider_error_at_once(fake_deepgram):
    # given Deepgram's limit is already reached on this socket (a second process, say)
    fake_deepgram.flush_limit = 1
    tts = DeepgramTTS(**fake_deepgram.provider_options())
    await speak(tts, "First.")

    # when the next clause is flushed, then the warning fails the clause (another voice may
    # take it) instead of waiting for audio that never comes
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProviderError) as caught:
        await speak(tts, "Second.")
    assert caught.value.failover and "Flush rate limit" in str(caught.value)
    assert asyncio.get_running_loop().time() - started < 1
    await tts.aclose()


@pytest.mark.asyncio
async def test_a_malformed_frame_from_the_speak_socket_is_a_provider_error(fake_deepgram):
    fake_deepgram.speak_garbage_once = True
    tts = DeepgramTTS(**fake_deepgram.provider_options())

    with pytest.raises(ProviderError, match="malformed"):
        await speak(tts, "Hello.")
    await tts.aclose()

"""G.711 µ-law, resampling, levels and WAV helpers (plain Python, no Django)."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pytest

from calls.realtime import audio

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference implementation (removed in 3.13; present on 3.11)


def tone(hz: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return audio.float_to_pcm16(amplitude * np.sin(2 * math.pi * hz * t))


def test_ulaw_decode_matches_audioop_for_every_code():
    # given every µ-law code
    codes = bytes(range(256))
    # when decoded by both implementations
    ours = audio.ulaw_to_pcm16(codes)
    reference = np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2")
    # then they agree bit for bit
    assert ours.dtype == np.int16
    assert np.array_equal(ours, reference)


def test_frame_decode_for_the_vad_matches_the_table_with_and_without_audioop(monkeypatch):
    # given every µ-law code
    codes = bytes(range(256))
    expected = audio.ulaw_to_pcm16(codes).tobytes()
    # then the per-frame decode agrees with the table, through audioop and through the fallback
    assert audio.ulaw_frame_to_pcm_bytes(codes) == expected
    monkeypatch.setattr(audio, "_ulaw2lin", None)
    assert audio.ulaw_frame_to_pcm_bytes(codes) == expected


def test_ulaw_encode_matches_audioop_for_every_int16():
    # given every 16-bit sample value
    samples = np.arange(-32768, 32768, dtype=np.int16)
    # when encoded by both implementations
    ours = audio.pcm16_to_ulaw(samples)
    reference = audioop.lin2ulaw(samples.tobytes(), 2)
    # then they agree bit for bit
    assert ours == reference


def test_ulaw_round_trip_keeps_every_code_but_negative_zero():
    # given every code except 0x7F, which decodes to 0 like 0xFF
    codes = bytes(c for c in range(256) if c != 0x7F)
    # when decoded and re-encoded
    again = audio.pcm16_to_ulaw(audio.ulaw_to_pcm16(codes))
    # then nothing changes, and digital silence is the documented silence byte
    assert again == codes
    assert audio.pcm16_to_ulaw(np.zeros(3, dtype=np.int16)) == bytes([audio.ULAW_SILENCE]) * 3


def test_pcm16_to_ulaw_refuses_floats_instead_of_wrapping_them():
    with pytest.raises(TypeError):
        audio.pcm16_to_ulaw(np.zeros(4, dtype=np.float32))


def test_frame_constants_describe_twilio_media():
    assert audio.FRAME_BYTES == 160
    assert audio.ULAW_SILENCE == 0xFF
    frames = audio.frames(b"\x00" * 200)
    assert [len(f) for f in frames] == [160, 160]
    assert frames[1][40:] == bytes([0xFF]) * 120  # padded with silence, not zeros


def test_float_to_pcm16_clips_out_of_range_audio():
    pcm = audio.float_to_pcm16(np.array([0.0, 0.5, 1.0, 1.7, -1.0, -3.0]))
    assert pcm.tolist() == [0, 16384, 32767, 32767, -32767, -32767]


def test_resample_keeps_a_tone_below_the_new_nyquist():
    # given a 3.5 kHz tone at 24 kHz (inside the 4 kHz telephone band)
    wideband = tone(3500, 24000, 1.0)
    # when brought down to 8 kHz
    narrow = audio.resample(wideband, 24000, 8000)
    # then it is still there at the same level (the edges are the filter's settling time)
    assert narrow.size == 8000
    assert abs(audio.rms_dbfs(narrow[400:-400]) - audio.rms_dbfs(wideband)) < 1.0


def test_resample_removes_a_tone_above_the_new_nyquist_instead_of_aliasing_it():
    # given a 6 kHz tone at 24 kHz: decimating without a filter would fold it to 2 kHz
    wideband = tone(6000, 24000, 1.0)
    assert audio.rms_dbfs(wideband[::3]) > -10  # what a naive decimation keeps
    # when resampled properly
    narrow = audio.resample(wideband, 24000, 8000)
    # then it is gone, at least 60 dB down (past the filter's settling time at the edges)
    assert audio.rms_dbfs(narrow[400:-400]) < audio.rms_dbfs(wideband) - 60


def test_streaming_resampler_matches_one_shot_resampling():
    # given a speech-like signal cut into 20 ms chunks
    signal = tone(440, 8000, 1.0) // 2 + tone(1300, 8000, 1.0) // 2
    resampler = audio.StreamingResampler(8000, 16000)
    # when each chunk is resampled in turn and the stream flushed
    parts = [resampler.process(signal[i : i + 160]) for i in range(0, signal.size, 160)]
    streamed = np.concatenate([*parts, resampler.flush()])
    # then the result is the one-shot result (no clicks at chunk boundaries)
    one_shot = audio.resample(signal, 8000, 16000)
    assert abs(streamed.size - one_shot.size) <= 2
    n = min(streamed.size, one_shot.size)
    difference = streamed[:n].astype(np.int32) - one_shot[:n].astype(np.int32)
    assert np.max(np.abs(difference[100:-100])) <= 64


def test_upsampler_gives_the_same_samples_however_the_audio_is_split():
    # given a speech-like signal and a noisy one
    rng = np.random.default_rng(3)
    signal = np.concatenate([tone(440, 8000, 0.5) // 2 + tone(1300, 8000, 0.5) // 2,
                             (rng.standard_normal(4000) * 3000).astype(np.int16)])

    # when it is upsampled whole, in 20 ms chunks, and in uneven ones
    def upsampled(sizes):
        upsampler, parts, start = audio.Upsampler2x(), [], 0
        for size in sizes:
            parts.append(upsampler.process(signal[start : start + size]))
            start += size
        return np.concatenate([*parts, upsampler.flush()])

    whole = upsampled([signal.size])
    uneven = [7, 160, 1, 999, 3000, signal.size]
    # then every split gives exactly the same samples
    assert np.array_equal(whole, upsampled([160] * (signal.size // 160)))
    assert np.array_equal(whole, upsampled(uneven))
    # and they are soxr's (the filter the recogniser's phone-line adaptation was estimated
    # with), within rounding, at the same times
    reference = audio.resample(signal, 8000, 16000)
    assert whole.size == reference.size == 2 * signal.size
    assert np.abs(whole.astype(int) - reference).max() <= 1


@pytest.mark.parametrize("hz", [300, 1000, 3000, 3400])
def test_upsampler_keeps_the_phone_band_and_drops_its_images(hz):
    # given a tone in the phone band
    signal = tone(hz, 8000, 1.0)
    # when it is upsampled to 16 kHz
    upsampler = audio.Upsampler2x()
    wide = np.concatenate([upsampler.process(signal), upsampler.flush()])[1000:-1000]
    power = np.abs(np.fft.rfft(wide * np.hanning(wide.size))) ** 2
    freqs = np.fft.rfftfreq(wide.size, 1 / 16000)

    def level_db(f):
        return 10 * np.log10(power[np.abs(freqs - f) < 50].sum())

    # then the tone keeps its level (within 0.1 dB of soxr's one-shot result) and its mirror
    # image above 4 kHz is at least 70 dB down
    reference = audio.resample(signal, 8000, 16000)[1000:-1000]
    assert abs(audio.rms_dbfs(wide) - audio.rms_dbfs(reference)) < 0.1
    assert level_db(8000 - hz) < level_db(hz) - 70


def test_rms_dbfs_of_reference_signals():
    assert audio.rms_dbfs(np.full(100, 32767, dtype=np.int16)) == pytest.approx(0.0, abs=0.01)
    assert audio.rms_dbfs(tone(1000, 8000, 1.0, amplitude=1.0)) == pytest.approx(-3.01, abs=0.05)
    assert audio.rms_dbfs(np.zeros(160, dtype=np.int16)) == -120.0
    assert audio.rms_dbfs(np.zeros(0, dtype=np.int16)) == -120.0


def test_wav_round_trip_at_8_khz(tmp_path):
    # given 8 kHz samples written to a file
    pcm = tone(1000, 8000, 0.25)
    path = tmp_path / "tone.wav"
    audio.write_wav(path, pcm)
    # when read back
    again = audio.read_wav(path)
    # then the samples are identical
    assert np.array_equal(again, pcm)


def test_read_wav_downmixes_and_resamples_to_8_khz():
    # given a 16 kHz stereo WAV in memory, a tone in the left channel only
    left = tone(1000, 16000, 0.5)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    buffer = io.BytesIO()
    import wave

    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(stereo.astype("<i2").tobytes())
    # when read as 8 kHz mono from bytes
    pcm = audio.read_wav(buffer.getvalue())
    # then it has half the samples and the averaged level (-6 dB)
    assert pcm.size == 4000
    assert audio.rms_dbfs(pcm[200:-200]) == pytest.approx(audio.rms_dbfs(left) - 6.02, abs=0.3)

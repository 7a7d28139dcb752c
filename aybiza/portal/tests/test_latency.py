"""Latency bars: stages between the marks, scaled to the slowest turn."""

from __future__ import annotations

from types import SimpleNamespace

from aybiza.portal.latency import latency_bars


def turn(index, stt=None, token=None, audio=None, frame=None):
    return SimpleNamespace(index=index, stt_final_ms=stt, llm_first_token_ms=token,
                           tts_first_audio_ms=audio, first_frame_ms=frame)


def test_stages_are_the_gaps_between_marks_scaled_to_the_slowest_turn():
    bars = latency_bars([turn(1, 100, 400, 600, 800), turn(2, 100, 200, 300, 400)])

    assert [s.duration_ms for s in bars[1].segments] == [100, 300, 200, 200]
    assert [s.width_pct for s in bars[1].segments] == [12.5, 37.5, 25.0, 25.0]
    assert sum(s.width_pct for s in bars[2].segments) == 50.0
    assert bars[2].total_ms == 400


def test_missing_marks_are_skipped_and_turns_without_marks_have_no_bar():
    bars = latency_bars([turn(1, stt=120, frame=500), turn(2)])

    assert [(s.name, s.duration_ms) for s in bars[1].segments] == [
        ("Speech to text", 120), ("First frame sent", 380)]
    assert 2 not in bars


def test_a_mark_earlier_than_the_previous_one_is_a_zero_stage():
    bars = latency_bars([turn(1, 300, 200, 400, 450)])

    assert [s.duration_ms for s in bars[1].segments] == [300, 0, 100, 50]
    assert bars[1].total_ms == 450

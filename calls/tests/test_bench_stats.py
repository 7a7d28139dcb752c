"""The benchmark's statistics, from synthetic arrival times (no server, no clock)."""

import math

from calls.bench import stats
from calls.bench.wsclient import OP_PING, OP_TEXT, decode_frames, encode_frame

FRAME = 0.020


def paced(n: int, *, burst: int = 5, start: float = 10.0) -> list[float]:
    """Arrivals of a pacer with a 4-frame lead: `burst` frames at once, then one per 20 ms."""
    return [start + max(0, i - burst + 1) * FRAME for i in range(n)]


def test_perfectly_paced_turn_has_no_jitter_and_the_lead_burst_is_not_counted():
    arrivals = paced(50)

    jitter = stats.turn_jitter_ms(arrivals, skip_audio_s=5 * FRAME)

    assert len(jitter) == 45  # the first delta is last-burst-frame → first paced frame
    assert max(jitter) < 1e-6
    assert stats.turn_gaps(arrivals) == 0
    assert stats.playback_underruns(arrivals) == 0


def test_a_late_frame_shows_as_jitter_on_both_sides_and_as_a_gap_when_over_60_ms():
    arrivals = paced(30)
    arrivals[20] += 0.045  # 45 ms late, the next one on time again

    jitter = sorted(stats.turn_jitter_ms(arrivals, skip_audio_s=5 * FRAME))

    assert math.isclose(jitter[-1], 45.0, abs_tol=1e-6)
    assert math.isclose(jitter[-2], 45.0, abs_tol=1e-6)
    assert stats.turn_gaps(arrivals) == 1  # 65 ms after its predecessor
    assert stats.turn_gaps(arrivals, threshold_s=0.070) == 0


def test_underrun_only_when_the_lead_is_used_up():
    arrivals = paced(30)
    late_within_lead = list(arrivals)
    late_within_lead[20] += 0.060  # 80 ms of lead absorb it
    for i in range(21, 30):
        late_within_lead[i] += 0.060

    starved = list(arrivals)
    for i in range(20, 30):
        starved[i] += 0.200  # longer than the queued audio

    assert stats.playback_underruns(late_within_lead) == 0
    assert stats.playback_underruns(starved) == 1


def test_jitter_expects_each_message_to_last_as_long_as_its_audio():
    # 40 ms messages every 40 ms after a one-message burst: no jitter.
    arrivals = [0.0, 0.0, 0.0, 0.04, 0.08, 0.12]
    durations = [0.04] * 6

    jitter = stats.turn_jitter_ms(arrivals, durations, skip_audio_s=0.1)

    assert len(jitter) == 3
    assert max(jitter) < 1e-6


def test_turn_overhead_and_barge_in_subtract_what_is_not_the_servers():
    assert math.isclose(stats.turn_overhead_ms(speech_end_t=1.0, first_frame_t=2.557,
                                               provider_ms=850, end_of_turn_ms=700), 7.0)
    assert math.isclose(stats.barge_in_reaction_ms(speech_start_t=5.0, clear_t=5.31,
                                                   min_speech_ms=250), 60.0)


def test_summary_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]

    summary = stats.summarize(values)

    assert summary == {"count": 100, "p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert stats.summarize([]) == {"count": 0, "p50": None, "p95": None, "p99": None,
                                   "max": None}


def test_histogram_percentile_reports_the_bucket_bound():
    bounds = [1, 2, 5, 10]
    before = [0, 0, 0, 0, 0]
    after = [90, 5, 3, 1, 1]  # the last bucket is "above 10 ms"

    counts = stats.histogram_delta(before, after)

    assert stats.histogram_percentile(bounds, counts, 50) == 1
    assert stats.histogram_percentile(bounds, counts, 98) == 5
    assert stats.histogram_percentile(bounds, counts, 100) == math.inf
    assert stats.histogram_percentile(bounds, [0] * 5, 50) is None


def test_cpu_percent_of_one_core():
    assert stats.cpu_percent(10.0, 10.5, 2.0) == 25.0


def test_websocket_frames_round_trip_through_the_lean_client_codec():
    # Client frames are masked (zero key); decode_frames tolerates masking, as servers unmask.
    message = b'{"event":"media"}' * 20
    buffer = bytearray(encode_frame(message) + encode_frame(b"hi", OP_PING))
    partial = encode_frame(b"x" * 300)

    buffer += partial[:100]
    frames = decode_frames(buffer)

    assert frames == [(True, OP_TEXT, message), (True, OP_PING, b"hi")]
    assert bytes(buffer) == partial[:100]  # the incomplete frame waits for more bytes


def test_cpu_ceiling_fits_fixed_cost_plus_cost_per_call():
    from calls.bench.report import cpu_bound_calls_per_core

    def step(calls: int, cpu: float) -> dict:
        return {"calls": calls, "talk": {"server_cpu_pct": cpu}}

    # 10 % fixed + 0.5 % per call; the saturated step (95 %) is left out of the fit.
    steps = [step(20, 20.0), step(60, 40.0), step(100, 60.0), step(200, 95.0)]

    assert cpu_bound_calls_per_core(steps) == 180
    assert cpu_bound_calls_per_core(steps[:1]) is None


def test_a_gap_after_a_40_ms_message_is_measured_from_the_audio_it_carried():
    # 40 ms messages every 40 ms, then one 60 ms after its predecessor (20 ms late: no gap)
    # and one 85 ms after its predecessor (45 ms late: a gap, as 65 ms would be after 20 ms).
    arrivals = [i * 0.040 for i in range(10)]
    arrivals[5] += 0.020
    arrivals[8] += 0.045
    durations = [0.040] * len(arrivals)

    assert stats.turn_gaps(arrivals, durations) == 1
    arrivals[5] += 0.021  # now 41 ms late
    assert stats.turn_gaps(arrivals, durations) == 2

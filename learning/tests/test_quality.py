"""`make eval`'s measures: the shipped evaluation sets, the text targets CI holds the offline
agent to, a spoken subset, and a scenario as a real phone call."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.core.management import call_command

from agents.demo_agents import DEMO_AGENTS, DENTAL
from learning.quality.dataset import DatasetError, load
from learning.quality.report import TARGETS, run_quality
from learning.quality.speech import evaluate_speech, sample, with_noise
from learning.quality.text import evaluate_text


@pytest.mark.parametrize("demo", DEMO_AGENTS, ids=lambda demo: demo.key)
def test_each_demo_agent_ships_200_labelled_utterances_over_every_intent(demo):
    utterances = load(demo.key)
    assert len(utterances) >= 200
    assert {u.intent for u in utterances} >= {"question", "problem", "human", "goodbye",
                                              "unknown", "fill"}
    assert sum(bool(u.slots) for u in utterances) >= 25
    assert load(demo.key, "heldout")  # and a set written after the tuning, never tuned on


@pytest.mark.parametrize("demo", DEMO_AGENTS, ids=lambda demo: demo.key)
def test_a_scenario_cannot_pass_on_the_replies_that_list_the_agents_questions(demo):
    # "Sorry, I don't have an answer to that. You can ask me things like: <questions>" holds
    # every knowledge question: a check on a question's words would pass on a miss.
    questions = " ".join(entry["question"] for entry in demo.knowledge).lower()
    for scenario in demo.scenarios:
        for check in scenario["checks"]:
            if check["type"] == "reply_contains":
                assert check["text"].lower() not in questions, (scenario["name"], check)


@pytest.mark.parametrize("demo", DEMO_AGENTS, ids=lambda demo: demo.key)
def test_the_offline_brain_meets_the_text_targets(demo):
    report = evaluate_text(demo, load(demo.key)).as_dict()
    assert report["intent_accuracy"] >= TARGETS["intent_accuracy"], report["misses"]
    assert report["slot_accuracy"] >= TARGETS["slot_accuracy"], report["misses"]


def test_a_wrong_label_would_be_caught():
    # the measure can fail: the same utterances with their intents rotated score badly
    utterances = load(DENTAL.key)[:40]
    swapped = [type(u)("goodbye" if u.intent != "goodbye" else "book", u.text, {}, "", u.where)
               for u in utterances]
    assert evaluate_text(DENTAL, swapped).intents.rate < 0.2


def test_a_bad_line_names_its_file_and_line(tmp_path, monkeypatch):
    import learning.quality.dataset as dataset

    (tmp_path / "broken.txt").write_text("# header\nquestion | hello\n")
    monkeypatch.setattr(dataset, "SETS", tmp_path)
    with pytest.raises(DatasetError, match=r"broken\.txt:2"):
        load("broken")


def test_the_command_reports_text_suites_and_writes_json_and_a_plot(tmp_path, capsys):
    call_command("quality", "--speech", "0", "--json", str(tmp_path / "q.json"),
                 "--plot", str(tmp_path / "q.png"), "--check")
    out = capsys.readouterr().out
    assert "held-out intent" in out and "dental" in out and "helpdesk" in out
    saved = json.loads((tmp_path / "q.json").read_text())
    assert set(saved["agents"]) == {"dental", "restaurant", "helpdesk"}
    assert saved["overall"]["suite_pass_rate"] == 1.0
    assert (tmp_path / "q.png").stat().st_size > 10_000


def test_noise_is_added_at_the_asked_level():
    import numpy as np

    from calls.realtime.audio import pcm16_to_ulaw, ulaw_to_pcm16

    tone = pcm16_to_ulaw((8000 * np.sin(np.arange(8000) / 5)).astype(np.int16))
    clean = ulaw_to_pcm16(tone).astype(float)
    for snr in (20.0, 10.0):
        noise = ulaw_to_pcm16(with_noise(tone, snr, seed=1)).astype(float) - clean
        measured = 10 * np.log10(np.mean(clean ** 2) / np.mean(noise ** 2))
        assert abs(measured - snr) < 1.5


@pytest.mark.integration
def test_spoken_utterances_are_recognised_and_understood():
    # a small spoken subset (CI): the hibari voice on a clean line, the agent's own model
    utterances = sample(load(DENTAL.key), 12)
    [clean] = asyncio.run(evaluate_speech(DENTAL, utterances,
                                          voices=("hibari",), noise_levels=(None,)))
    assert clean.words.wer <= 35.0, "\n".join(clean.words.lines)
    # the in-domain WER counts every utterance the agent could act on, and only those
    in_domain = [u.text for u in utterances if u.intent != "unknown"]
    assert 0 < len(in_domain) < len(utterances)
    assert [line.split(" | ", 1)[1].split(" => ")[0] for line in clean.in_domain.lines] == in_domain
    assert clean.intents.rate >= 0.6, "\n".join(clean.words.lines)


def test_run_quality_puts_the_parts_together_without_speech():
    run = run_quality(speech_per_agent=0, agents=(DENTAL,))
    assert run.failures() == []
    assert run.as_dict()["agents"]["dental"]["suite"]["failed"] == []


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_scenario_is_judged_on_what_a_real_call_stored(settings):
    from agents.demo import demo_seed
    from learning.quality.calls import call_scenarios
    from tests.daphne_server import daphne_server

    token = "quality-token"
    settings.TWILIO_AUTH_TOKEN = token
    booking = next(s for s in DENTAL.scenarios if s["name"] == "Books an appointment")
    hours = next(s for s in DENTAL.scenarios if s["name"] == "Answers the opening hours")
    demo = type(DENTAL)(**{**DENTAL.__dict__, "scenarios": [hours, booking]})
    with daphne_server({"TWILIO_AUTH_TOKEN": token}) as base_url:
        seed = demo_seed(number=DENTAL.number, base_url=base_url)
        results = asyncio.run(call_scenarios(base_url, demo, seed.number))
    assert [r.passed for r in results] == [True, True], [r.failures for r in results]
    assert all(r.greeting_ms and r.greeting_ms > 0 for r in results)
    assert results[1].answer_ms and all(ms > 0 for ms in results[1].answer_ms)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_backchannels_and_noise_over_the_agent_resume_it_and_interruptions_cut_it(settings):
    from agents.demo import demo_seed
    from calls.models import Call, Role
    from learning.quality.overlap import overlap_trials, summarise
    from tests.daphne_server import daphne_server

    token = "quality-token"
    settings.TWILIO_AUTH_TOKEN = token
    with daphne_server({"TWILIO_AUTH_TOKEN": token}) as base_url:
        seed = demo_seed(number=DENTAL.number, base_url=base_url)
        trials = asyncio.run(overlap_trials(base_url, token, DENTAL.key, seed.number,
                                            ("hibari",), limit=2))
    by_text = {t.text: t for t in trials}
    assert not any(t.error for t in trials), trials
    for text in ("uh-huh", "okay", "cough", "knock"):
        assert not by_text[text].cleared, by_text[text]  # no clear: the agent kept the floor
    for text in ("uh-huh", "okay", "cough"):
        assert by_text[text].paused and by_text[text].resumed, by_text[text]
    for text in ("Wait, I have a question.", "Sorry, can I book for Tuesday?"):
        cut = by_text[text]
        # Cut, and silent within the barge-in minimum (250 ms) plus the audio already at
        # Twilio (80 ms) and a frame or two of clocks.
        assert cut.cleared and cut.silent_after_ms is not None and cut.silent_after_ms < 400, cut
    summary = summarise(trials)
    assert summary["backchannel_false_interrupts"] == 0.0
    assert summary["interruptions_cut"] == 1.0
    # Neither the backchannels nor the noises became turns the agent answered.
    calls = Call.objects.order_by("id")
    quiet = [call for call, t in zip(calls, trials, strict=True) if t.kind != "interruption"]
    assert all(not call.turns.filter(role=Role.CALLER).exists() for call in quiet)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_words_keep_a_paused_sentence_whole_and_answer_a_finished_one_sooner(settings):
    from agents.demo import demo_seed
    from learning.quality.pauses import PauseSample, measure_pauses, summarise
    from tests.daphne_server import daphne_server

    token = "quality-token"
    settings.TWILIO_AUTH_TOKEN = token
    samples = [PauseSample(DENTAL.key, "I have a really bad toothache and my gum is swollen.",
                           "I have a really bad toothache and", "my gum is swollen.", 1200),
               PauseSample(DENTAL.key, "Tuesday at ten.")]
    with daphne_server({"TWILIO_AUTH_TOKEN": token}) as base_url:
        seed = demo_seed(number=DENTAL.number, base_url=base_url)
        trials = measure_pauses(base_url, token, DENTAL.key, seed.number, samples)
    assert not any(t.error for t in trials), trials
    by = {(t.policy, t.pause_ms): t for t in trials}
    # "…toothache and" plainly goes on: the words wait through the 1.2 s pause, the fixed
    # 700 ms silence cuts the caller off
    assert by["words", 1200].cut_off is False and by["silence", 1200].cut_off is True
    # "Tuesday at ten." is finished: answered at a short pause, not after 700 ms of silence
    assert by["words", 0].answer_ms <= by["silence", 0].answer_ms - 250, trials
    summary = summarise(trials)
    assert summary["words"]["false_cut_offs"] == 0.0
    assert summary["silence"]["false_cut_offs"] == 1.0


@pytest.mark.integration
def test_names_are_heard_against_the_question_for_one():
    from agents.demo_agents import RESTAURANT
    from learning.quality.names import evaluate_names, load_names, takes_a_name

    # given the names set and the agents whose tools take a person's name
    assert len(load_names()) >= 20 and "Sam Lee" in load_names()
    assert takes_a_name(RESTAURANT) and not takes_a_name(DENTAL)

    # when three of them are spoken (hibari) to the restaurant's recogniser ("Grace Walker",
    # used here before, is "great walker" on some machines' rendition of hibari even expected)
    [row] = asyncio.run(evaluate_names(RESTAURANT, ("hibari",),
                                       ["Laura Bennett", "Gary Nelson", "Brenda Adams"]))

    # then with the names expected they are heard as said, and without, not
    assert row["expected"]["heard"] == ["laura bennett", "gary nelson", "brenda adams"]
    assert row["expected"]["whole"] == 1.0 and row["expected"]["given"] == 1.0
    assert row["unexpected"]["whole"] < 1.0, row["unexpected"]["heard"]


@pytest.mark.integration
def test_answers_to_the_brain_s_questions_are_heard_against_what_it_expects():
    from agents.demo_agents import HELP_DESK
    from learning.quality.fills import evaluate_fills

    # the help desk's answers (urgencies, descriptions) spoken by hibari
    [row] = asyncio.run(evaluate_fills(HELP_DESK, ("hibari",)))

    assert row["answers"] >= 25
    assert row["expected"]["slot_accuracy"] >= 0.7, row["expected"]["misses"]
    assert len(row["expected"]["misses"]) == round(
        row["answers"] * (1 - row["expected"]["slot_accuracy"]))

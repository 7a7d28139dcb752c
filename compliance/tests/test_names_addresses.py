"""Names and street addresses are redacted before a turn is stored (issue 21, privacy)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from calls.services import turn_context, turn_save
from compliance.crypto import decrypt_text_for_tenant
from compliance.redaction import TOKENS, redact
from compliance.redaction.pii_bench import score
from compliance.tests.pii_dev_cases import DEV_CASES
from compliance.tests.pii_eval_cases import CASES, NEGATIVES

# Targets of the issue; the measured figures are in docs/compliance.md.
RECALL_TARGET = {"name": 0.90, "address": 0.85}
PRECISION_FLOOR = 0.95


def test_the_evaluation_set_is_big_varied_and_apart_from_the_dev_set():
    assert len(CASES) >= 200
    labelled = {kind: sum(len(labels.get(kind, [])) for _, labels in CASES)
                for kind in ("name", "address")}
    assert labelled["name"] >= 100 and labelled["address"] >= 80 and len(NEGATIVES) >= 50
    assert all(substring in text for text, labels in CASES
               for substrings in labels.values() for substring in substrings)
    assert not {text for text, _ in CASES} & {text for text, _ in DEV_CASES}


@pytest.mark.parametrize("kind", ["name", "address"])
def test_recall_and_precision_on_the_evaluation_set_meet_the_targets(kind):
    result = score(CASES, redact)[kind]

    assert result.recall >= RECALL_TARGET[kind], result.misses
    assert result.precision >= PRECISION_FLOOR, result.false


@pytest.mark.parametrize(("text", "secret", "kind"), [
    ("Hi, my name is Maria Gonzalez and I'd like to book a cleaning.", "Gonzalez", "name"),
    ("my name is wei zhang", "zhang", "name"),
    ("Can I speak to Dr. Nakamura please?", "Nakamura", "name"),
    ("I live at 123 Main Street, Apartment 4B, Springfield, Illinois 62704.", "Main Street",
     "address"),
    ("my address is po box 112 helena montana", "112", "address"),
])
def test_names_and_addresses_are_replaced_by_tokens(text, secret, kind):
    result = redact(text)

    assert secret not in result.text and TOKENS[kind] in result.text


@pytest.mark.parametrize("text", [
    "I'd like to book for May.", "Will you be open on Saturday?",
    "Mark my words, that's the third time this week.", "Is the office on Main Street?",
    "We ordered 12 pizzas for the party.",
])
def test_confusable_words_are_kept(text):
    assert redact(text).findings == []


def test_a_turn_is_stored_redacted_and_the_original_only_encrypted(tenant, agent, make_call):
    type(agent).objects.filter(pk=agent.pk).update(keep_original_transcripts=True)
    call = type(make_call()).objects.get()  # loaded afresh, with the agent's policy
    said = "Hi, I'm Fiona Campbell, I live at 8 Thistle Road, Edinburgh."

    turn = turn_save(call=call, index=0, role="caller", text=said)

    assert turn.text == "Hi, I'm [NAME], I live at [ADDRESS]."
    assert turn.redactions == ["address", "name"]
    assert decrypt_text_for_tenant(tenant, turn.text_encrypted,
                                   context=turn_context(call, 0)) == said


def test_without_the_policy_no_original_is_kept(make_call):
    turn = turn_save(call=make_call(), index=0, role="caller", text="my name is dmitri volkov")

    assert turn.text == "my name is [NAME]" and turn.text_encrypted == ""


def test_a_name_overlapping_another_finding_keeps_its_words_outside_it():
    # The spoken e-mail takes "Jones at acme dot com"; "Mary" must not survive in clear.
    result = redact("my email is Mary Jones at acme dot com")

    assert "Mary" not in result.text and "Jones" not in result.text
    assert [f.kind for f in result.findings] == ["name", "email"]


def test_name_tables_and_address_model_are_loaded_at_start_not_on_a_turn(settings):
    # Loading holds the GIL for up to a few hundred ms: on a first stored turn it would stall
    # the audio of every call in the process.
    code = ("import django; django.setup()\n"
            "from compliance.redaction.addresses import load_parser\n"
            "from compliance.redaction.names import gazetteer\n"
            "print(gazetteer.cache_info().currsize, load_parser.cache_info().currsize)")

    run = subprocess.run([sys.executable, "-c", code], env=os.environ, cwd=settings.BASE_DIR,
                         capture_output=True, text=True, timeout=120)

    assert run.stdout.split() == ["1", "1"], run.stderr[-2000:]


def test_the_business_own_name_is_not_a_person_name():
    # "Hi, Acme here." is the agent introducing the business, not a caller's name.
    assert redact("Hi, Acme here.", public_names=["Acme Dental"]).text == "Hi, Acme here."
    assert redact("Hi, Acme here.").text == "Hi, [NAME] here."
    # A caller's name that merely shares a word with the business is still redacted.
    said = "This is John Acme speaking."
    assert redact(said, public_names=["Acme Dental"]).text == "This is [NAME] speaking."

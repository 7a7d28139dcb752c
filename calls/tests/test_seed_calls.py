"""`seed_calls` and `bench_call_list`: many stored calls, and the timing of the portal's list."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from calls.models import Call, Turn


@pytest.mark.django_db
def test_seed_calls_stores_calls_with_turns_and_ordered_latencies(tenant, agent):
    call_command("seed_calls", tenant=tenant.slug, count=7, turns=4, stdout=io.StringIO())

    calls = Call.objects.filter(tenant=tenant)
    assert calls.count() == 7 and set(calls.values_list("agent", flat=True)) == {agent.pk}
    assert Turn.objects.filter(call__tenant=tenant).count() == 28
    for turn in Turn.objects.filter(call__tenant=tenant, role="agent"):
        assert (turn.stt_final_ms < turn.llm_first_token_ms < turn.tts_first_audio_ms
                < turn.first_frame_ms)


@pytest.mark.django_db
def test_seed_calls_refuses_an_unknown_tenant():
    with pytest.raises(CommandError, match="No tenant"):
        call_command("seed_calls", tenant="nobody", count=1, stdout=io.StringIO())


@pytest.mark.django_db
def test_bench_call_list_times_every_page(settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    out = io.StringIO()

    call_command("bench_call_list", calls=30, runs=2, stdout=out)

    text = out.getvalue()
    assert "30 calls of one tenant" in text
    for page in ("first page", "transcript search", "call detail"):
        assert page in text

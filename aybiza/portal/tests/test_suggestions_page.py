"""The agent's suggestions page: look now, accept into the draft with an answer, dismiss."""

from __future__ import annotations

from django.urls import reverse

from learning.models import Suggestion
from learning.tests.test_suggestions import WHITENING, asked


def test_look_accept_and_dismiss_from_the_page(db, client):
    from agents.demo import demo_seed
    from agents.models import Agent, KnowledgeEntry

    seed = demo_seed(number="+15550100000", base_url="http://127.0.0.1:9")
    demo = Agent.objects.get(pk=seed.agent_id)
    assert client.login(username=seed.username, password=seed.password)
    for question in WHITENING:
        asked(demo, question)
    for question in ("Is there a bike rack?", "Do you have a bike rack?"):
        asked(demo, question)
    url = reverse("portal:agent-suggestions", args=[demo.pk])
    assert "No open suggestions" in client.get(url).content.decode()

    page = client.post(reverse("portal:agent-learn", args=[demo.pk]),
                             follow=True).content.decode()
    assert "2 suggestions new or updated" in page and "whitening" in page

    whitening = Suggestion.objects.get(title__icontains="whiten")
    decide = reverse("portal:suggestion-decide", args=[demo.pk, whitening.pk])
    page = client.post(decide, {"decision": "accept", "answer": ""},
                             follow=True).content.decode()
    assert "Write the answer the agent should give." in page
    page = client.post(decide, {"decision": "accept", "answer": "Yes, on Fridays."},
                             follow=True).content.decode()
    assert "Added to the draft" in page
    assert KnowledgeEntry.objects.filter(agent=demo, answer="Yes, on Fridays.").exists()
    bikes = Suggestion.objects.get(title__icontains="bike")
    page = client.post(reverse("portal:suggestion-decide", args=[demo.pk, bikes.pk]),
                             {"decision": "dismiss"}, follow=True).content.decode()
    assert "Dismissed" in page and "Decided" in page


def test_the_page_says_who_drafted_the_proposed_answer(db, client):
    from agents.demo import demo_seed
    from agents.models import Agent

    seed = demo_seed(number="+15550100000", base_url="http://127.0.0.1:9")
    demo = Agent.objects.get(pk=seed.agent_id)
    assert client.login(username=seed.username, password=seed.password)
    for question in WHITENING[:2]:
        asked(demo, question)
    client.post(reverse("portal:agent-learn", args=[demo.pk]))
    url = reverse("portal:agent-suggestions", args=[demo.pk])
    suggestion = Suggestion.objects.get()
    for by, said in (("offline", "Proposed from the agent's documents"),
                     ("bedrock", "Drafted by the agent's model (bedrock)")):
        suggestion.proposal = {**suggestion.proposal, "answer": "Yes.", "answer_by": by}
        suggestion.save(update_fields=["proposal"])
        assert said in client.get(url).content.decode()

"""The `--agent` option the learning commands share (eval, replay, learn)."""

from __future__ import annotations

from django.core.management.base import CommandError

from agents.models import Agent


def add_agent_argument(parser) -> None:
    parser.add_argument("--agent", default=None,
                        help="Agent id or exact name (default: the demo agent).")


def agent_from_options(options) -> Agent:
    """The agent named by `--agent` (an id or an exact name), the demo agent without one."""
    from agents.demo import DEMO_AGENT_NAME

    key = options["agent"] or DEMO_AGENT_NAME
    agent = (Agent.objects.filter(pk=int(key)).first() if str(key).isdigit()
             else Agent.objects.filter(name=key).order_by("id").first())
    if agent is None:
        raise CommandError(f"No agent {key!r} (run `manage.py seed_demo` for the demo).")
    return agent

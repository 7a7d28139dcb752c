"""A fake Twilio REST API (2010-04-01) served on a local port: the call simulator's carrier
(`calls/simulator/carrier.py`: Calls create/fetch/update, Messages create, and placing outbound
calls to scripted callees) run by a FakeServer thread, so sync code and the real twilio SDK
talk to it like to Twilio.

    with FakeTwilioRest() as twilio:
        settings.TWILIO_ACCOUNT_SID, ... = twilio.settings_overrides().values()  # or override
        twilio.add_call("CA…", status="in-progress")
        ...  # code under test uses twilio.rest.Client with client.api.base_url = twilio.base_url
        assert twilio.requests[-1].form["Status"] == ["completed"]
"""

from __future__ import annotations

from calls.simulator.carrier import (
    API_VERSION,
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    Callee,
    Carrier,
    ScriptedError,
    TwilioRequest,
)
from tests.fakes import FakeServer

__all__ = ["API_VERSION", "Callee", "FakeTwilioRest", "ScriptedError", "TwilioRequest"]


class FakeTwilioRest(Carrier, FakeServer):
    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID,
                 auth_token: str = DEFAULT_AUTH_TOKEN, **carrier_options) -> None:
        FakeServer.__init__(self)
        Carrier.__init__(self, account_sid, auth_token, **carrier_options)

    def settings_overrides(self) -> dict[str, str]:
        """Django settings that point the product's Twilio clients here."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "TWILIO_API_BASE_URL": self.base_url}

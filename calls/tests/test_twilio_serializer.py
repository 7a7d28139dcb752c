"""Twilio Media Streams JSON in and out (PROTOCOLS §1.2–1.3)."""

import base64
import json

import pytest

from calls.realtime.serializers.twilio import (
    Connected,
    Dtmf,
    Mark,
    OutboundEncoder,
    ProtocolError,
    Start,
    Stop,
    parse_inbound,
    twilio_media,
    twilio_start,
)

START = {
    "event": "start", "sequenceNumber": "1", "streamSid": "MZ1",
    "start": {"accountSid": "AC1", "streamSid": "MZ1", "callSid": "CA1", "tracks": ["inbound"],
              "customParameters": {"token": "abc"},
              "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
}


def test_media_decodes_to_the_raw_frame():
    frame = bytes(range(160))
    message = twilio_media(stream_sid="MZ1", ulaw=frame, chunk=2, timestamp_ms=40, sequence=3)

    assert parse_inbound(message) == frame


def test_start_carries_sids_parameters_and_format():
    event = parse_inbound(json.dumps(START))

    assert isinstance(event, Start)
    assert (event.stream_sid, event.call_sid) == ("MZ1", "CA1")
    assert event.custom_parameters == {"token": "abc"}
    assert (event.encoding, event.sample_rate, event.channels) == ("audio/x-mulaw", 8000, 1)


def test_simulator_start_message_round_trips():
    message = twilio_start(stream_sid="MZ9", call_sid="CA9", account_sid="AC9",
                           custom_parameters={"token": "t"})

    event = parse_inbound(message)

    assert isinstance(event, Start) and event.custom_parameters == {"token": "t"}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"event": "connected", "protocol": "Call", "version": "1.0.0"},
         Connected("Call", "1.0.0")),
        ({"event": "dtmf", "streamSid": "MZ1", "dtmf": {"track": "inbound_track", "digit": "7"}},
         Dtmf("7")),
        ({"event": "mark", "streamSid": "MZ1", "mark": {"name": "t1.2"}}, Mark("t1.2")),
        ({"event": "stop", "streamSid": "MZ1", "stop": {"accountSid": "AC1", "callSid": "CA1"}},
         Stop("CA1")),
    ],
)
def test_control_messages(message, expected):
    assert parse_inbound(json.dumps(message)) == expected


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ('{"event": "media", "media": {"payload": "@@@@"}}', "bad_base64"),
        ('{"event": "media", "media": {}}', "bad_media"),
        ('{"event": "dtmf", "dtmf": {"digit": "x"}}', "bad_dtmf"),
        ('{"event": "mark", "mark": {}}', "bad_mark"),
        ('{"event": "start", "start": {"streamSid": "MZ1"}}', "bad_start"),
        ('{"event": "teleport"}', "unknown_event"),
    ],
)
def test_malformed_messages_raise_a_named_protocol_error(raw, kind):
    with pytest.raises(ProtocolError) as error:
        parse_inbound(raw)

    assert error.value.kind == kind


def test_outbound_messages_are_valid_twilio_json():
    encoder = OutboundEncoder('MZ"odd')
    frame = b"\x01" * 160

    media = json.loads(encoder.media(frame))
    mark = json.loads(encoder.mark("t1.1"))
    clear = json.loads(encoder.clear())

    assert media == {"event": "media", "streamSid": 'MZ"odd',
                     "media": {"payload": base64.b64encode(frame).decode()}}
    assert mark == {"event": "mark", "streamSid": 'MZ"odd', "mark": {"name": "t1.1"}}
    assert clear == {"event": "clear", "streamSid": 'MZ"odd'}

"""Django's HTTP handler as production serves it: no cyclic garbage per request."""

import asyncio
import gc

import django
import pytest

from aybiza.asgi import django_asgi_app

SCOPE = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
         "scheme": "http", "path": "/healthz", "raw_path": b"/healthz", "query_string": b"",
         "root_path": "", "headers": [(b"host", b"localhost")], "client": ["127.0.0.1", 1],
         "server": ["127.0.0.1", 80]}


async def _request(*, client_disconnects: bool) -> list[dict]:
    """One request; the client hangs up right after sending it, or stays until the response."""
    inbox: asyncio.Queue = asyncio.Queue()
    inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
    if client_disconnects:
        inbox.put_nowait({"type": "http.disconnect"})
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    await django_asgi_app(dict(SCOPE), inbox.get, send)
    return sent


def _cyclic_garbage(requests: int, client_disconnects: bool) -> list:
    asyncio.run(_request(client_disconnects=client_disconnects))  # warm caches first
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(requests):
            asyncio.run(_request(client_disconnects=client_disconnects))
        gc.collect()
        return [o for o in gc.garbage if type(o).__name__ in ("frame", "traceback")
                or isinstance(o, BaseException)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


@pytest.mark.skipif(django.VERSION[:2] != (5, 2), reason="the fix is for Django 5.2's handler")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("client_disconnects", [False, True])
def test_a_request_leaves_no_exception_cycles(client_disconnects):
    assert _cyclic_garbage(5, client_disconnects) == []


@pytest.mark.django_db(transaction=True)
def test_the_response_still_goes_out_and_a_hang_up_still_stops_the_view():
    sent = asyncio.run(_request(client_disconnects=False))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    # A client that hung up before the response: the view is cancelled, nothing is sent.
    assert asyncio.run(_request(client_disconnects=True)) == []

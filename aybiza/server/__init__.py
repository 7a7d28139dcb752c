"""Everything AYBIZA does inside other libraries' private code, in one fenced place.

    launcher.py         `python -m aybiza.server`: daphne's CLI with uvloop, the patches below
                        and a frozen startup heap; `on_shutdown` hooks
    ws_fast_path.py     daphne/autobahn/Twisted: small WebSocket frames framed directly; the
                        `aybiza.websocket.direct` extension (server side)
    twisted_reactor.py  Twisted: socket callbacks without the legacy log context
    channels_loop.py    Channels: the consumer loop without a task and asyncio.wait per message
    django_asgi.py      Django: the ASGI handler without a reference cycle per hung-up request
    direct.py           the direct extension as an application sees it (imports no server)
    shapes.py           the checks every patch runs on the upstream code it depends on

Each patch names the upstream file and function it depends on, at the versions pinned in
requirements/base.txt, and checks their shape first: when an upgrade changed them, one warning
is logged and the standard daphne/Channels/Django path runs instead (slower, still correct).
`AYBIZA_SERVER_FAST_PATH=false` forces that standard path. Importing this package (or
`direct.py`) imports no server library: the call engine works under any ASGI server.
"""

"""A local OTLP/HTTP trace receiver for `manage.py bench --otel`: accepts what the server's
OpenTelemetry exporter POSTs to /v1/traces (answering as a collector does) and counts it, so the
bench measures tracing's real cost — spans built, batched, serialised and sent — with no
collector installed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OtlpSink:
    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/traces":
                    sink.requests += 1
                    sink.bytes += len(body)
                # An empty ExportTraceServiceResponse: everything accepted.
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"

    @contextlib.contextmanager
    def running(self) -> Iterator[OtlpSink]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()

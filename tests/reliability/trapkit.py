"""Loopback servers for the trust tests: a trap that records every request it gets, and a fake
sync.so whose poll answers point wherever a test wants (output links to other hosts)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, routes=None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.routes = routes or {}       # path -> (status, headers, body bytes)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def seen(self) -> str:
        """Everything the server received, as one string (paths, headers, bodies)."""
        return "\n".join(f"{r['method']} {r['path']}\n{r['headers']}\n{r['body']!r}" for r in self.requests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        server: Recorder = self.server
        server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers.items()),
                                "body": body})
        route = server.routes.get(self.path.split("?")[0])
        if route is None:
            for prefix, value in server.routes.items():
                if prefix.endswith("*") and self.path.startswith(prefix[:-1]):
                    route = value
                    break
        status, headers, payload = route if route else (404, {"Content-Type": "application/json"},
                                                        b'{"message": "not found"}')
        if callable(payload):
            payload = payload(self)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _any

    def log_message(self, *args):
        pass

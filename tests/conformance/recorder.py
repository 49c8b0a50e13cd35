"""A recording proxy in front of the sandbox, one loopback listener per host role.

Each role a provider uses (api; fal's storage and cdn; "files" for presigned uploads and
outputs) gets its own port, so a recorded request says which host it went to even when our
client and the SDK build URLs differently. Requests are forwarded unchanged to the sandbox;
sandbox URLs in answers are rewritten to the proxy (file URLs to the files listener, the rest to
the api listener), so follow-up requests made from answers are recorded too.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclasses.dataclass
class Exchange:
    role: str
    method: str
    path: str  # below the provider prefix, e.g. "/v2/generate"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class Recorder:
    def __init__(self, sandbox, provider: str, roles=("api",)):
        self.sandbox, self.provider = sandbox, provider
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._servers = {role: self._listen(role) for role in (*roles, "files")}

    def base(self, role: str = "api") -> str:
        return f"http://127.0.0.1:{self._servers[role].server_address[1]}/{self.provider}"

    def clear(self) -> None:
        with self._lock:
            self.exchanges.clear()

    def close(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    # -- plumbing ------------------------------------------------------------------------------
    def _listen(self, role: str) -> ThreadingHTTPServer:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                recorder._forward(self, role)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return server

    def _forward(self, h: BaseHTTPRequestHandler, role: str) -> None:
        body = _read_body(h)
        sb_origin = f"127.0.0.1:{self.sandbox.port}".encode()
        for server in self._servers.values():
            body = body.replace(f"127.0.0.1:{server.server_address[1]}".encode(), sb_origin)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "content-length",
                                                                         "transfer-encoding", "connection")}
        conn = http.client.HTTPConnection("127.0.0.1", self.sandbox.port, timeout=30)
        try:
            conn.request(h.command, h.path, body=body, headers=dict(headers, **{"Content-Length": str(len(body))}))
            resp = conn.getresponse()
            data = resp.read()
            status, resp_headers = resp.status, resp.getheaders()
        finally:
            conn.close()
        split = urlsplit(h.path)
        prefix = f"/{self.provider}"
        with self._lock:
            self.exchanges.append(Exchange(role, h.command, split.path[len(prefix):] or "/",
                                           parse_qs(split.query, keep_blank_values=True),
                                           {k.lower(): v for k, v in h.headers.items()}, body, status))
        data = self._rewrite(data)
        h.send_response(status)
        for k, v in resp_headers:
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _rewrite(self, data: bytes) -> bytes:
        pattern = re.compile(rb"http://127\.0\.0\.1:" + str(self.sandbox.port).encode() + rb"(/[^\s\"'<]*)?")

        def repl(m):
            rest = m.group(1) or b""
            role = "files" if b"/_files/" in rest else "api"
            return f"http://127.0.0.1:{self._servers[role].server_address[1]}".encode() + rest

        return pattern.sub(repl, data)


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if (h.headers.get("Transfer-Encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(h.rfile.read(size))
            h.rfile.readline()
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length else b""

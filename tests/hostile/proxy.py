"""A hostile loopback proxy in front of the sandbox: the misbehaving gateway of issue #13.

The client is pointed at `http://127.0.0.1:<proxy>/<provider>`; every request is classified
(upload / submit / poll / download / other) by this module's own reading of the providers' wire
protocols (providers.md §1-§5), recorded with its headers and body, and either forwarded to the
sandbox or not. A `Rule` then decides what the client sees: the sandbox's answer, or something a
real gateway or a broken provider does — a 503 page after the upstream created the job, garbage
under a 200, a body trickling at one byte a second, a gzip bomb, an absurd Retry-After, the API
key echoed back. URLs in answers are rewritten to point at the proxy, so uploads to presigned
URLs and result downloads pass through it too.

"Paid POSTs" are submits the proxy forwarded (the upstream may have created a job for each).
"""

from __future__ import annotations

import dataclasses
import gzip
import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPS = ("upload", "submit", "poll", "download", "other")


def _sync(method: str, path: str, body: bytes) -> str | None:
    if path.startswith("/v2/assets"):
        return "upload"
    if path == "/v2/generate" and method == "POST":
        return "submit"
    return "poll" if path.startswith("/v2/generate/") else None


def _runware(method: str, path: str, body: bytes) -> str | None:
    if path.rstrip("/") != "/v1" or method != "POST":
        return None
    text = body.decode("utf-8", "replace")
    for task, op in (('"videoInference"', "submit"), ('"getResponse"', "poll"), ('"mediaStorage"', "upload")):
        if task in text:
            return op
    return None


def _wavespeed(method: str, path: str, body: bytes) -> str | None:
    if path.startswith("/api/v3/media/"):
        return "upload"
    if path.startswith("/api/v3/predictions/"):
        return "poll"
    return "submit" if path.startswith("/api/v3/") and method == "POST" else None


def _foxapi(method: str, path: str, body: bytes) -> str | None:
    if path.startswith("/v1/files/"):
        return "upload"
    if path == "/v1/videos/generations" and method == "POST":
        return "submit"
    return "poll" if path.startswith("/v1/tasks/") else None


def _fal(method: str, path: str, body: bytes) -> str | None:
    if path.startswith(("/storage/", "/files/upload")):
        return "upload"
    if "/requests/" in path:
        return "other" if path.endswith("/cancel") else "poll"
    return "submit" if path.startswith("/fal-ai/") and method == "POST" else None


_CLASSIFY = {"sync": _sync, "runware": _runware, "wavespeed": _wavespeed, "foxapi": _foxapi, "fal": _fal}


def classify(provider: str, method: str, path: str, body: bytes) -> str:
    """What a request is, read from the wire as each provider documents it."""
    if "/_files/" in path:
        return "download" if method in ("GET", "HEAD") else "upload"
    rule = _CLASSIFY.get(provider)
    return (rule(method, path, body) if rule else None) or "other"


@dataclasses.dataclass
class Seen:
    """One request as the proxy received it."""

    provider: str
    op: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    forwarded: bool = False
    rule: str | None = None
    t: float = dataclasses.field(default_factory=time.monotonic)

    def key(self) -> str | None:
        """The API key this request carried (whatever the provider's header is)."""
        h = self.headers
        if "x-api-key" in h:
            return h["x-api-key"]
        auth = h.get("authorization", "")
        return auth.partition(" ")[2] or None


@dataclasses.dataclass
class Upstream:
    """What the sandbox answered (already rewritten to the proxy's URLs)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclasses.dataclass
class Answer:
    """What the client gets instead. `trickle` sends the body at that many bytes per second;
    `stall` waits that long before the status line; `reset` drops the connection (RST)."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    trickle: float | None = None
    stall: float = 0.0
    reset: bool = False
    length: int | None = None  # Content-Length to announce (default: len(body))


@dataclasses.dataclass
class Rule:
    """For `count` requests of `op` to `provider` ("*" = any): forward or not, then answer.

    `answer(seen, upstream)` builds the Answer (upstream is None when not forwarded); None means
    "pass the upstream answer through unchanged".
    """

    provider: str
    op: str
    answer: Callable[[Seen, Upstream | None], Answer | None]
    forward: bool = True
    count: int = 1
    name: str = ""
    #: throttle the request body read to this many bytes per second (a slow upload sink)
    read_rate: float | None = None


class HostileProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        #: set whenever a request of that op arrives (tests wait on them to time a cancel/kill)
        self.arrived: dict[str, threading.Event] = {op: threading.Event() for op in OPS}
        self.upload_bytes_read = 0
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> HostileProxy:
        self.stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.proxy = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def reset(self) -> None:
        self.stopping.set()  # wakes trickles and stalls of the previous test
        with self.lock:
            self.rules = []
            self.seen = []
            self.upload_bytes_read = 0
        for event in self.arrived.values():
            event.clear()
        self.stopping.clear()

    def base_url(self, provider: str) -> str:
        return f"http://127.0.0.1:{self.port}/{provider}"

    def add(self, rule: Rule) -> Rule:
        with self.lock:
            self.rules.append(rule)
        return rule

    # -- what happened -------------------------------------------------------------------------
    def requests(self, provider: str | None = None, op: str | None = None) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if (provider is None or s.provider == provider)
                    and (op is None or s.op == op)]

    def paid_posts(self, provider: str) -> list[Seen]:
        """Submits the upstream saw: each may have created (and billed) a job."""
        return [s for s in self.requests(provider, "submit") if s.forwarded]

    # -- internals -----------------------------------------------------------------------------
    def _take(self, provider: str, op: str, throttled: bool = False) -> Rule | None:
        """The first live rule for this request; `throttled` asks only for rules that slow the
        reading of the body (decided before the body is read, so op "*" matches any request)."""
        with self.lock:
            for rule in self.rules:
                if rule.count <= 0 or rule.provider not in (provider, "*"):
                    continue
                if throttled != (rule.read_rate is not None):
                    continue
                if rule.op == op or (throttled and rule.op == "*"):
                    rule.count -= 1
                    return rule
        return None

    def forward(self, seen: Seen) -> Upstream:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        headers = {k: v for k, v in seen.headers.items()
                   if k not in ("host", "content-length", "transfer-encoding", "connection", "accept-encoding")}
        ours, theirs = f"127.0.0.1:{self.port}".encode(), f"127.0.0.1:{self.upstream_port}".encode()
        # the client only knows the proxy's URLs; the sandbox must see its own (it reads its files
        # locally instead of fetching them through us and meeting the rules meant for the client)
        body = seen.body.replace(ours, theirs)
        headers["Content-Length"] = str(len(body))
        target = f"/{seen.provider}{seen.path}" + (f"?{seen.query}" if seen.query else "")
        try:
            conn.request(seen.method, target, body=body, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            kept = [(k, v) for k, v in resp.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server")]
        except (OSError, http.client.HTTPException):
            # the sandbox dropped the connection (its own reset fault): tell the client likewise
            return Upstream(-1, [], b"")
        finally:
            conn.close()
        kept = [(k, v.replace(theirs.decode(), ours.decode())) for k, v in kept]
        return Upstream(resp.status, kept, body.replace(theirs, ours))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    proxy: HostileProxy

    def handle_error(self, request, client_address) -> None:
        # clients aborting mid-answer is what these tests provoke; anything else is a proxy bug
        import sys
        import traceback

        if not isinstance(sys.exc_info()[1], OSError):
            traceback.print_exc()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120

    def log_message(self, fmt, *args) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _any(self) -> None:
        proxy: HostileProxy = self.server.proxy
        path, _, query = self.path.partition("?")
        parts = path.split("/", 2)
        provider = parts[1] if len(parts) > 1 else ""
        sub = "/" + (parts[2] if len(parts) > 2 else "")
        headers = {k.lower(): v for k, v in self.headers.items()}
        # a throttled read must be decided before the body is read
        rule = proxy._take(provider, classify(provider, self.command, sub, b""), throttled=True)
        try:
            body = self._read_body(proxy, rule.read_rate if rule else None)
        except (OSError, ValueError):
            self.close_connection = True
            return
        op = classify(provider, self.command, sub, body)
        if rule is None:
            rule = proxy._take(provider, op)
        seen = Seen(provider, op, self.command, sub, query, headers, body, rule=rule.name if rule else None)
        with proxy.lock:
            proxy.seen.append(seen)
        proxy.arrived[op].set()
        upstream = None
        if rule is None or rule.forward:
            upstream = proxy.forward(seen)
            seen.forwarded = True
        answer = rule.answer(seen, upstream) if rule else None
        if answer is None:
            if upstream is None or upstream.status < 0:
                return self._reset()
            answer = Answer(upstream.status, upstream.body, upstream.headers)
        self._send(proxy, answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

    def _read_body(self, proxy: HostileProxy, rate: float | None) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self._read(proxy, size, rate))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self._read(proxy, length, rate) if length > 0 else b""

    def _read(self, proxy: HostileProxy, size: int, rate: float | None) -> bytes:
        if rate is None:
            data = self.rfile.read(size)
            with proxy.lock:
                proxy.upload_bytes_read += len(data)
            return data
        out = bytearray()
        step = max(1, int(rate / 20))
        while len(out) < size:
            piece = self.rfile.read(min(step, size - len(out)))
            if not piece:
                raise OSError("client went away")
            out += piece
            with proxy.lock:
                proxy.upload_bytes_read += len(piece)
            if proxy.stopping.wait(len(piece) / rate):
                raise OSError("proxy reset")
        return bytes(out)

    def _send(self, proxy: HostileProxy, a: Answer) -> None:
        try:
            if a.stall and proxy.stopping.wait(a.stall):
                return self._reset()
            if a.reset:
                return self._reset()
            self.send_response(a.status)
            names = {k.lower() for k, _ in a.headers}
            for k, v in a.headers:
                self.send_header(k, v)
            if "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(a.body) if a.length is None else a.length))
            self.end_headers()
            if self.command == "HEAD":
                return
            if a.trickle is None:
                self.wfile.write(a.body)
                return
            for i in range(len(a.body)):
                self.wfile.write(a.body[i:i + 1])
                self.wfile.flush()
                if proxy.stopping.wait(1.0 / a.trickle):
                    return self._reset()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


# -- answers a test can use --------------------------------------------------------------------

def gateway(status: int, retry_after: str | None = None) -> Callable[[Seen, Upstream | None], Answer]:
    """An nginx-style error page: not the provider's body, so it proves nothing about the job."""
    page = f"<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center>" \
           f"<hr><center>nginx</center></body></html>".encode()
    headers = [("Content-Type", "text/html")]
    if retry_after is not None:
        headers.append(("Retry-After", retry_after))
    return lambda seen, up: Answer(status, page, headers)


def garbage(body: bytes, status: int = 200, content_type: str = "application/json"):
    return lambda seen, up: Answer(status, body, [("Content-Type", content_type)])


def deep_json(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def oversized_json(megabytes: int = 64) -> bytes:
    return b'{"id": "' + b"x" * (megabytes * 1024 * 1024) + b'"}'


def trickle(rate: float = 1.0):
    """The upstream's answer, sent at `rate` bytes per second."""
    return lambda seen, up: Answer(up.status, up.body, up.headers, trickle=rate)


def stall(seconds: float):
    """Hold the answer for `seconds` (the upstream has already acted), then the real answer."""
    return lambda seen, up: Answer(up.status, up.body, up.headers, stall=seconds) if up else \
        Answer(504, b"", stall=seconds)


def reset_after():
    return lambda seen, up: Answer(reset=True)


def with_retry_after(status: int, value: str, body: bytes = b"{}"):
    return lambda seen, up: Answer(status, body, [("Retry-After", value), ("Content-Type", "application/json")])


def encoded(kind: str):
    """The upstream's answer, correctly compressed (Content-Length = compressed size)."""
    def build(seen: Seen, up: Upstream | None) -> Answer:
        data = compress(up.body, kind)
        headers = [(k, v) for k, v in up.headers if k.lower() != "content-encoding"]
        return Answer(up.status, data, headers + [("Content-Encoding", kind)])
    return build


def compress(data: bytes, kind: str) -> bytes:
    if kind == "gzip":
        return gzip.compress(data, 6)
    if kind == "zstd":
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(kind)


_BOMBS: dict[tuple[str, int], bytes] = {}


def bomb_bytes(kind: str, decoded_mb: int) -> bytes:
    """`decoded_mb` MiB of zeros, compressed: gzip as concatenated members (RFC 1952 §2.2),
    zstd as one streamed frame. 3 GiB decode from ~3 MB of gzip and a few hundred KB of zstd."""
    key = (kind, decoded_mb)
    if key not in _BOMBS:
        block = bytes(1024 * 1024)
        if kind == "gzip":
            member = gzip.compress(block, 9)
            _BOMBS[key] = member * decoded_mb
        elif kind == "zstd":
            import zstandard

            cobj = zstandard.ZstdCompressor(level=3).compressobj()
            parts = [cobj.compress(block) for _ in range(decoded_mb)]
            parts.append(cobj.flush())
            _BOMBS[key] = b"".join(parts)
        else:
            raise ValueError(kind)
    return _BOMBS[key]


def bomb(kind: str, decoded_mb: int, content_type: str = "application/json", status: int = 200):
    data = bomb_bytes(kind, decoded_mb)
    return lambda seen, up: Answer(status, data, [("Content-Type", content_type), ("Content-Encoding", kind)])


def echo_key(transform: Callable[[dict, str], Any]):
    """The upstream's JSON answer with the request's API key planted by `transform(data, key)`."""
    def build(seen: Seen, up: Upstream | None) -> Answer:
        data = json.loads(up.body)
        out = transform(data, seen.key() or "")
        return Answer(up.status, json.dumps(data if out is None else out).encode(), up.headers)
    return build



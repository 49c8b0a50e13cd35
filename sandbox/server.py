"""The loopback HTTP server: routing to providers, request-level faults, file serving, `Sandbox`.

Threading contract: ThreadingHTTPServer runs every connection on its own daemon thread; all shared
data lives in `State` behind its lock. `Sandbox.stop()` shuts the listener down, joins the serve
thread, wakes "slow" sleepers and kills any ffmpeg still running.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import admin, media
from .faults import REQUEST_KINDS
from .providers import make_providers
from .state import PROVIDERS, State
from .wire import Request, Response, parse_query

DEFAULT_SLOW_SECONDS = 5.0


class Sandbox:
    """In-process emulator of the five provider APIs (CONTRACTS.md "Sandbox")."""

    def __init__(self, port: int = 0, queue_seconds: float = 0.0, processing_seconds: float = 0.2,
                 keys=("sandbox-key",), concurrency: int | None = None, workdir: str | None = None,
                 verbose: bool = False):
        self._own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="lipsync_sandbox_")
        self.state = State(self.workdir, keys, {"queue_seconds": queue_seconds,
                                                "processing_seconds": processing_seconds,
                                                "concurrency": concurrency})
        self.providers = make_providers(self.state)
        self.port = port
        self.verbose = verbose
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> "Sandbox":
        self.stopping.clear()
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.sandbox = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.state.port = self.port
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=10)
        self.state.executor.shutdown(wait=False, cancel_futures=True)
        media.kill_children()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- public API (mirrors the /_sandbox admin endpoints) ------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def base_url(self, provider: str) -> str:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}")
        return f"{self.url}/{provider}"

    def arm(self, provider: str, kind: str, count: int = 1, on: str | None = None, **params) -> dict:
        return self.state.faults.arm(provider, kind, count, on, params).as_dict()

    def disarm(self, provider: str | None = None) -> None:
        self.state.faults.clear(provider)

    def stats(self) -> dict:
        return self.state.stats()

    def requests(self) -> list[dict]:
        with self.state.lock:
            return list(self.state.requests)

    def configure(self, provider: str | None = None, **settings) -> None:
        self.state.configure(provider, **settings)

    def reset(self) -> None:
        self.state.reset()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every job's render finished (tests that inspect stats right after submit)."""
        deadline = time.monotonic() + timeout
        with self.state.lock:
            jobs = list(self.state.jobs.values())
        return all(j.done.wait(max(0.0, deadline - time.monotonic())) for j in jobs)

    # -- request handling -----------------------------------------------------------------------
    def handle(self, h: "_Handler") -> None:
        split = urlsplit(h.path)
        body = _read_body(h)
        parts = split.path.split("/", 2)
        first = parts[1] if len(parts) > 1 else ""
        if first == "_sandbox":
            return _send(h, admin.handle(self, h.command, split.path, parse_query(split.query), body))
        provider = self.providers.get(first)
        if provider is None:
            return _send(h, Response.json(404, {"error": f"no provider {first!r}; one of {', '.join(PROVIDERS)}"}))
        req = Request(h.command, "/" + (parts[2] if len(parts) > 2 else ""), parse_query(split.query),
                      {k.lower(): v for k, v in h.headers.items()}, body, first, self.base_url(first), h.path)
        if req.path.startswith("/_files/"):
            route, groups, op = None, None, "download" if req.method in ("GET", "HEAD") else "upload"
        else:
            route, groups = provider.match(req)
            op = "other"
            if route is not None and route != "405":
                op = route.op(req) if callable(route.op) else route.op
        entry = {"t": time.time(), "provider": first, "method": h.command, "path": req.path,
                 "query": split.query, "op": op, "bytes": len(body), "status": None, "fault": None,
                 "idempotency_key": req.header("idempotency-key")}
        self.state.log_request(entry)
        fault = self.state.faults.take(first, op, REQUEST_KINDS)
        if fault:
            entry["fault"] = fault.kind
            if fault.kind == "reset_before":
                return _reset(h)
            if fault.kind.startswith("http_"):
                status = int(fault.kind[5:])
                retry = fault.params.get("retry_after", 1) if status == 429 else fault.params.get("retry_after")
                resp = provider.fault_error(status, retry, fault.params)
                entry["status"] = resp.status
                return _send(h, resp)
            if fault.kind == "slow":
                self.stopping.wait(float(fault.params.get("seconds", DEFAULT_SLOW_SECONDS)))
        if req.path.startswith("/_files/"):
            resp = _files(self, provider, req)
        elif route is None:
            resp = provider.not_found(req)
        elif route == "405":
            resp = provider.error(405, "method_not_allowed", f"Method {req.method} not allowed")
        else:
            resp = (route.auth and provider.authenticate(req)) or route.handler(req, **groups)
        entry["status"] = resp.status
        if fault and fault.kind == "reset_after":
            return _reset(h)
        if fault and fault.kind == "malformed_json":
            text = resp.body or b'{"status": "ok"}'
            resp = Response(200, text[: max(1, len(text) // 2)], {"Content-Type": "application/json"})
        _send(h, resp)


def _files(sb: Sandbox, provider, req: Request) -> Response:
    """`{base}/_files/<id>/<name>`: GET serves stored inputs and outputs, PUT is the presigned upload."""
    state = sb.state
    file_id = req.path.split("/")[2] if req.path.count("/") >= 2 else ""
    with state.lock:
        f = state.files.get(file_id)
    if req.method == "PUT":
        return provider.presigned_put(req, f) if hasattr(provider, "presigned_put") else \
            Response.text(405, "method not allowed")
    if f is None or not f.path or not os.path.exists(f.path):
        return _expired_body(404, "NoSuchKey", "The specified key does not exist.")
    job = state.get_job(f.provider, f.job_id) if f.job_id else None
    download_fault = state.faults.take(provider.name, "download", ("output_expired", "truncated_download"))
    if (job and job.output_expired) or (download_fault and download_fault.kind == "output_expired"):
        params = download_fault.params if download_fault else job.extra.get("fault_params", {})
        if int(params.get("status", 403)) == 404:  # params status=404: the object is gone, not just unsigned
            return _expired_body(404, "NoSuchKey", "The specified key does not exist.")
        return _expired_body(403, "AccessDenied", "Request has expired")
    truncate = bool(download_fault and download_fault.kind == "truncated_download")
    if job and job.truncate_downloads > 0:
        job.truncate_downloads -= 1
        truncate = True
    with state.lock:
        state.downloads[provider.name] += 1
    headers = {"Content-Type": f.content_type, "Accept-Ranges": "bytes", "ETag": f'"{f.sha256[:32]}"'}
    rng = req.header("range") or ""
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
    if m and not truncate:
        # Resumable downloads: one byte range (what a client resuming a truncated file asks for).
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else f.size - 1, f.size - 1)
        if start >= f.size or end < start:
            return Response(416, b"", {"Content-Range": f"bytes */{f.size}"})
        with open(f.path, "rb") as fh:
            fh.seek(start)
            body = fh.read(end - start + 1)
        return Response(206, body, dict(headers, **{"Content-Range": f"bytes {start}-{end}/{f.size}"}))
    return Response(200, b"", headers, file_path=f.path, truncate=truncate)


def _expired_body(status: int, code: str, message: str) -> Response:
    # Output URLs are signed object-store URLs upstream (docs/providers.md §6.12): S3-style XML errors.
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response.text(status, xml, "application/xml")


def _read_body(h: BaseHTTPRequestHandler) -> bytes:
    if (h.headers.get("Transfer-Encoding") or "").lower() == "chunked":
        chunks = []
        while True:
            line = h.rfile.readline(65537)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while h.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(h.rfile.read(size))
            h.rfile.readline(65537)
        return b"".join(chunks)
    length = int(h.headers.get("Content-Length") or 0)
    return h.rfile.read(length) if length > 0 else b""


def _send(h: BaseHTTPRequestHandler, resp: Response) -> None:
    try:
        body = resp.body
        if resp.file_path:
            with open(resp.file_path, "rb") as fh:
                body = fh.read()
        h.send_response(resp.status)
        for k, v in resp.headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command == "HEAD":
            return
        if resp.truncate:
            # Half the announced body, then a clean FIN: the client sees a short read, not a reset.
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_WR)
            return
        h.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        h.close_connection = True


def _reset(h: BaseHTTPRequestHandler) -> None:
    """Abort the connection with a TCP RST (SO_LINGER 0) and no (further) response bytes."""
    h.close_connection = True
    try:
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
    except OSError:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    sandbox: Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LipsyncSandbox/1.0"
    timeout = 120  # reap idle keep-alive connections

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle + delayed ACK add ~40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _any(self) -> None:
        sb: Sandbox = self.server.sandbox
        try:
            sb.handle(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a sandbox bug becomes a visible 500, not a hung client
            _send(self, Response.json(500, {"error": "sandbox internal error", "detail": repr(exc)}))

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

    def log_message(self, fmt, *args) -> None:
        if self.server.sandbox.verbose:
            super().log_message(fmt, *args)

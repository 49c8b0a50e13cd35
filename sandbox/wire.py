"""Request/response values passed between the HTTP handler and the provider modules.

Providers never see `http.server`; they get a `Request` (body already read, chunked bodies
de-chunked) and return a `Response`. That keeps fault injection in one place (server.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str  # path below the provider prefix, e.g. "/v2/generate/abc"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    provider: str
    base_url: str  # http://127.0.0.1:PORT/<provider>
    raw_path: str = ""
    _json: object = field(default=None, repr=False)
    _json_done: bool = field(default=False, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        vals = self.query.get(name)
        return vals[0] if vals else default

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json(self):
        """Parsed JSON body; raises ValueError if the body is not JSON."""
        if not self._json_done:
            self._json = json.loads(self.body.decode("utf-8")) if self.body else None
            self._json_done = True
        return self._json

    def multipart(self) -> dict[str, "Part"]:
        return parse_multipart(self.header("content-type") or "", self.body)


@dataclass
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    file_path: str | None = None  # stream this file instead of body
    truncate: bool = False  # download fault: announce full length, send half, drop

    @classmethod
    def json(cls, status: int, obj, headers: dict | None = None) -> "Response":
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return cls(status, json.dumps(obj).encode("utf-8"), h)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain", headers: dict | None = None):
        h = {"Content-Type": content_type}
        h.update(headers or {})
        return cls(status, text.encode("utf-8"), h)


def parse_query(qs: str) -> dict[str, list[str]]:
    return parse_qs(qs, keep_blank_values=True)


def parse_multipart(content_type: str, body: bytes) -> dict[str, Part]:
    """Minimal multipart/form-data parser (one part per name; the last wins)."""
    boundary = None
    for piece in content_type.split(";"):
        piece = piece.strip()
        if piece.lower().startswith("boundary="):
            boundary = piece[9:].strip('"')
    if not boundary:
        raise ValueError("multipart body without boundary")
    delim = b"--" + boundary.encode("latin-1")
    parts: dict[str, Part] = {}
    for chunk in body.split(delim)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk
        head, _, data = chunk.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        name = filename = ctype = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                for attr in value.split(";"):
                    k, _, v = attr.strip().partition("=")
                    if k == "name":
                        name = v.strip('"')
                    elif k == "filename":
                        filename = v.strip('"')
            elif key.strip().lower() == "content-type":
                ctype = value.strip()
        if name is not None:
            parts[name] = Part(name, data, filename, ctype)
    return parts

"""What every provider module offers the server: routes, authentication, its error shape."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..wire import Request, Response

# Generic wording for injected HTTP faults; providers translate into their own body shape.
FAULT_MESSAGES = {
    429: ("rate_limit_exceeded", "Rate limit exceeded. Please try again later."),
    500: ("internal_server_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service temporarily unavailable"),
}
REASONS = {400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden", 404: "Not Found",
           409: "Conflict", 413: "Payload Too Large", 422: "Unprocessable Entity", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Callable  # handler(ctx, req, **groups) -> Response
    op: str | Callable[[Request], str]  # submit | poll | upload | download | other
    auth: bool = True


class Provider:
    name = ""

    def __init__(self, state):
        self.state = state
        self.routes: list[Route] = []

    def route(self, method: str, pattern: str, handler, op, auth: bool = True) -> None:
        self.routes.append(Route(method, re.compile("^" + pattern + "$"), handler, op, auth))

    def match(self, req: Request):
        """(route, groups) for the request, or (None, None); a path with other methods -> ("405", None)."""
        path_hit = False
        for r in self.routes:
            m = r.pattern.match(req.path)
            if not m:
                continue
            path_hit = True
            if r.method == req.method or (req.method == "HEAD" and r.method == "GET"):
                return r, m.groupdict()
        return ("405" if path_hit else None), None

    def bearer(self, req: Request) -> str | None:
        auth = req.header("authorization") or ""
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None

    # Overridden per provider.
    def authenticate(self, req: Request) -> Response | None:
        raise NotImplementedError

    def api_key(self, req: Request) -> str:
        raise NotImplementedError

    def error(self, status: int, code: str, message: str, headers: dict | None = None, **extra) -> Response:
        raise NotImplementedError

    def fault_error(self, status: int, retry_after: float | None = None, params: dict | None = None) -> Response:
        """Body of an injected HTTP fault; params code / message override the wording and any other
        params become extra body fields (e.g. sync's 503 IDEMPOTENCY_OUTCOME_UNKNOWN + generationId)."""
        extra = dict(params or {})
        extra.pop("retry_after", None)
        default_code, default_message = self.fault_wording(status)
        code, message = extra.pop("code", None) or default_code, extra.pop("message", None) or default_message
        headers = {"Retry-After": _fmt(retry_after)} if retry_after is not None else None
        return self.error(status, code, message, headers, **extra)

    def fault_wording(self, status: int) -> tuple[str, str]:
        return FAULT_MESSAGES.get(status, ("error", "Error"))

    def not_found(self, req: Request) -> Response:
        return self.error(404, "not_found", f"Cannot {req.method} {req.path}")


def _fmt(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def iso(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"

"""`/_sandbox/...` endpoints: the HTTP face of Sandbox.arm/stats/configure/reset (CONTRACTS.md).

No authentication: the sandbox only listens on loopback.
"""

from __future__ import annotations

import json

from .faults import DOCS, FaultError
from .wire import Response


def handle(sb, method: str, path: str, query: dict, body: bytes) -> Response:
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return Response.json(400, {"error": "body must be JSON"})
    route = (method, path.rstrip("/"))
    try:
        if route == ("GET", "/_sandbox/stats"):
            return Response.json(200, sb.stats())
        if route == ("GET", "/_sandbox/requests"):
            return Response.json(200, sb.requests())
        if route == ("GET", "/_sandbox/faults"):
            return Response.json(200, {"armed": sb.state.faults.armed(), "kinds": DOCS})
        if route == ("POST", "/_sandbox/faults"):
            items = data if isinstance(data, list) else [data]
            armed = [sb.arm(d.get("provider"), d.get("kind"), d.get("count", 1), d.get("on"),
                            **(d.get("params") or {})) for d in items]
            return Response.json(200, {"armed": armed if isinstance(data, list) else armed[0]})
        if route == ("DELETE", "/_sandbox/faults"):
            sb.disarm(data.get("provider") or (query.get("provider") or [None])[0])
            return Response.json(200, {"armed": sb.state.faults.armed()})
        if route == ("POST", "/_sandbox/config"):
            provider = data.pop("provider", None)
            sb.configure(provider, **data)
            return Response.json(200, {"settings": sb.state.settings})
        if route == ("GET", "/_sandbox/config"):
            return Response.json(200, {"settings": sb.state.settings})
        if route == ("POST", "/_sandbox/reset"):
            sb.reset()
            return Response.json(200, {"ok": True})
    except (FaultError, ValueError, TypeError) as exc:
        return Response.json(400, {"error": str(exc)})
    return Response.json(404, {"error": f"no admin endpoint {method} {path}"})

"""URL rules shared by every request: https anywhere, plain http only to this computer.

No httpx here, so a host can check a configured base URL (Blender's main thread, before a job is
recorded) without importing the HTTP stack.
"""

from __future__ import annotations

import ipaddress
import urllib.parse

from .errors import InputError


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str = "URL", provider: str | None = None) -> str:
    """https anywhere, plain http only to loopback (the sandbox); anything else is refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url
    raise InputError(f"refusing {what} {redact_url(url)!r}: only https, or http to this computer, is allowed",
                     provider)


def redact_url(url: str) -> str:
    """The URL without query string (signed URLs carry credentials there)."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

"""Armed faults: what goes wrong, for which provider, on which kind of request, how many times.

Kinds (CONTRACTS.md): request-level faults act on the HTTP exchange, job-level faults mark the
next job created (on="submit") or the job being polled (on="poll"), download faults act on
`_files` GETs. `count` is how many times the fault fires before it disarms itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field

REQUEST_KINDS = ("reset_before", "reset_after", "http_500", "http_502", "http_503", "http_429", "slow",
                 "malformed_json")
JOB_KINDS = ("job_failed", "job_rejected", "output_expired", "output_missing", "truncated_download")
KINDS = REQUEST_KINDS + JOB_KINDS
ONS = ("submit", "poll", "upload", "download", "any")
# A job fault attaches to a job when it is created; download faults to the next file download.
DEFAULT_ON = {"job_failed": "submit", "job_rejected": "submit", "output_missing": "submit",
              "output_expired": "submit", "truncated_download": "download"}
ALL_PROVIDERS = "*"

DOCS = {
    "reset_before": "drop the connection (TCP RST) before the request is handled",
    "reset_after": "handle the request (a submit creates the job), then drop the connection without a response",
    "http_500": "answer 500 with the provider's error body (request not handled)",
    "http_502": "answer 502 with the provider's error body",
    "http_503": "answer 503 with the provider's error body",
    "http_429": "answer 429 with Retry-After (params: retry_after, default 1)",
    "slow": "sleep before answering (params: seconds, default 5), then answer normally",
    "malformed_json": "handle the request, answer 200 with a cut-off JSON body",
    "job_failed": "the job ends FAILED with the provider's error code (params: code, message)",
    "job_rejected": "the job ends REJECTED (or the provider's equivalent) (params: code, message)",
    "output_expired": "the output URL answers 403 AccessDenied (params: status=404 for NoSuchKey)",
    "output_missing": "the job completes without an output URL",
    "truncated_download": "the download announces the full length, sends half and drops",
}


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    provider: str
    kind: str
    on: str
    count: int
    params: dict = field(default_factory=dict)
    fired: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class Faults:
    def __init__(self, providers):
        self._providers = tuple(providers)
        self._lock = threading.Lock()
        self._armed: list[Fault] = []
        self.fired: list[dict] = []

    def arm(self, provider: str, kind: str, count: int = 1, on: str | None = None,
            params: dict | None = None) -> Fault:
        if provider not in self._providers and provider != ALL_PROVIDERS:
            raise FaultError(f"unknown provider {provider!r}")
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
        on = on or DEFAULT_ON.get(kind, "submit")
        if on not in ONS:
            raise FaultError(f"unknown 'on' {on!r}; one of {', '.join(ONS)}")
        if not isinstance(count, int) or count < 1:
            raise FaultError("count must be a positive integer")
        fault = Fault(provider, kind, on, count, dict(params or {}))
        with self._lock:
            self._armed.append(fault)
        return fault

    def clear(self, provider: str | None = None) -> None:
        with self._lock:
            self._armed = [f for f in self._armed if provider is not None and f.provider != provider]

    def reset(self) -> None:
        with self._lock:
            self._armed = []
            self.fired = []

    def take(self, provider: str, op: str, kinds) -> Fault | None:
        """Consume one firing of the first armed fault that matches, or None."""
        with self._lock:
            for fault in self._armed:
                if fault.count <= 0 or fault.kind not in kinds:
                    continue
                if fault.provider not in (provider, ALL_PROVIDERS):
                    continue
                if fault.on != "any" and fault.on != op:
                    continue
                fault.count -= 1
                fault.fired += 1
                self.fired.append({"provider": provider, "kind": fault.kind, "on": op, "t": time.time()})
                if fault.count <= 0:
                    self._armed.remove(fault)
                return fault
        return None

    def armed(self) -> list[dict]:
        with self._lock:
            return [f.as_dict() for f in self._armed]

"""HTTP plumbing shared by every provider: the httpx client, URL safety and the retry policy.

Retry policy (STYLE.md habit 7, providers.md §1.11, §2.6, §3.4):
- "safe" requests (GETs, uploads, submits carrying an Idempotency-Key or a client taskUUID) are
  retried on connection errors and on 408/429/5xx, honouring Retry-After;
- an unsafe submit is retried only when the request provably did not reach the application
  (connect error, 408, 429, 503). Any other failure after sending raises OutcomeUnknown: the
  job may exist, and re-sending could pay twice.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from .errors import Cancelled, JobFailed, LipsyncError, OutcomeUnknown, ProviderUnavailable, RateLimited
from .urls import check_url, is_loopback, redact_url  # noqa: F401 - re-exported for the providers

log = logging.getLogger(__name__)

USER_AGENT = "vse-lipsync-client/0.1"
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
# statuses that prove the application did not act on the request
NOT_PROCESSED = {408, 429, 503}
MAX_RETRY_AFTER = 120.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_after_of(response: httpx.Response) -> float | None:
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    return parse_retry_after(response.headers.get("retry-after"))


def default_timeout() -> httpx.Timeout:
    # read covers sync.so long-polls (≤10 s, providers.md §1.8) with margin
    return httpx.Timeout(connect=15.0, read=60.0, write=120.0, pool=15.0)


class Http:
    """One httpx.Client plus the retry policy; `sleep`/`clock` are injectable for fast tests."""

    def __init__(self, provider: str, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 cancel: threading.Event | None = None, max_attempts: int = 5,
                 timeout: httpx.Timeout | None = None) -> None:
        self.provider = provider
        self.sleep = sleep
        self.clock = clock
        self.cancel = cancel
        self.max_attempts = max_attempts
        self.client = httpx.Client(transport=transport, timeout=timeout or default_timeout(),
                                   follow_redirects=False, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "Http":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- waiting -------------------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up (and raise Cancelled) when the cancel flag is set."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled by the user", self.provider)
        if seconds <= 0:
            return
        if self.cancel is not None and self.sleep is time.sleep:
            if self.cancel.wait(seconds):
                raise Cancelled("cancelled by the user", self.provider)
        else:
            self.sleep(seconds)
            if self.cancel is not None and self.cancel.is_set():
                raise Cancelled("cancelled by the user", self.provider)

    @staticmethod
    def backoff(attempt: int) -> float:
        return min(10.0, 0.5 * 2 ** attempt) * random.uniform(0.75, 1.25)

    # -- requests ------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, safe: bool,
                parse_error: Callable[[httpx.Response], LipsyncError],
                body: Callable[[], dict[str, Any]] | None = None, **kwargs: Any) -> httpx.Response:
        """Send with retries. `body()` rebuilds file/stream arguments for every attempt."""
        check_url(url, provider=self.provider)
        shown = f"{method} {redact_url(url)}"
        last_error: LipsyncError | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                log.debug("%s: retry %d", shown, attempt)
            args = dict(kwargs)
            if body is not None:
                args.update(body())
            try:
                response = self.client.request(method, url, **args)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # never reached the server: safe to retry even a paid submit
                last_error = ProviderUnavailable(f"could not connect ({type(exc).__name__})", self.provider)
                self.wait(self.backoff(attempt))
                continue
            except httpx.TransportError as exc:
                if not safe:
                    raise OutcomeUnknown(
                        f"the connection was lost after the request was sent ({type(exc).__name__}); "
                        "the job may or may not have been created, so it was not sent again — "
                        "check the provider's dashboard before submitting again", self.provider) from None
                last_error = ProviderUnavailable(f"connection problem ({type(exc).__name__})", self.provider)
                self.wait(self.backoff(attempt))
                continue
            log.debug("%s -> %d", shown, response.status_code)
            if response.status_code < 400:
                return response
            status = response.status_code
            error = parse_error(response)
            if status not in RETRY_STATUSES or isinstance(error, (OutcomeUnknown, JobFailed)):
                raise error
            if not safe and status not in NOT_PROCESSED:
                raise OutcomeUnknown(
                    f"the server answered HTTP {status} after receiving the submit; the job may or may "
                    "not have been created, so it was not sent again — check the provider's dashboard "
                    "before submitting again", self.provider, status=status)
            hint = retry_after_of(response)
            if hint is not None and hint > MAX_RETRY_AFTER:
                raise error
            last_error = error
            if attempt + 1 < self.max_attempts:
                self.wait(hint if hint is not None else self.backoff(attempt))
        assert last_error is not None
        if isinstance(last_error, (RateLimited, ProviderUnavailable, OutcomeUnknown)) or not safe:
            raise last_error
        raise ProviderUnavailable(last_error.message, self.provider, status=last_error.status)

"""HTTP plumbing shared by every provider: the httpx client, URL safety, bounded answers, total
deadlines, prompt cancels and the retry policy.

Retry policy (STYLE.md habit 7, providers.md §1.11, §2.6, §3.4):
- "safe" requests (GETs, uploads, submits carrying an Idempotency-Key or a client taskUUID) are
  retried on connection errors and on 408/429/5xx, honouring a clamped Retry-After;
- an unsafe submit (no idempotency: WaveSpeed, FoxAPI, fal) is re-sent only when it provably never
  left this computer (the connection was never made). Once its bytes may have reached a server,
  a lost connection, a deadline, any 5xx, a 408, an answer that cannot be read all raise
  OutcomeUnknown: a gateway answers 503/408/429 after it forwarded the request when the upstream
  resets (issue #13), so those prove nothing. Only the provider's own documented refusal body
  (validation, auth, balance, rate limit: `refusal(response)`) proves the job was not created; it
  raises its typed error, and the caller may wait out a RateLimited of that kind.

Every request has a total deadline — connect, send, headers and the whole body. httpx's timeouts
are per socket operation, so a server sending one byte a second never trips them (issue #13: a
5 s poll deadline overshot by 70 s). A watchdog thread per request aborts it at its deadline or as
soon as the cancel flag is set, by shutting down the sockets this client opened: the only way to
wake a thread blocked in recv()/send() on another thread's behalf.

Answers are read raw and decoded within caps (`decoding`): at most `Limits.answer_bytes` decoded
and `Limits.json_depth` deep, so a compression bomb or a pathological JSON is an "unreadable
answer" instead of a MemoryError or RecursionError.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import logging
import math
import random
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from .decoding import API_ENCODINGS, UndecodableBody, decoded_chunks, json_depth
from .errors import (
    Cancelled, InputError, JobFailed, LipsyncError, OutcomeUnknown, ProviderUnavailable, RateLimited,
)
from .urls import check_url, is_loopback, redact_url  # noqa: F401 - re-exported for the providers

log = logging.getLogger(__name__)

USER_AGENT = "vse-lipsync-client/0.1"
RETRY_STATUSES = {408, 429, 500, 502, 503, 504}
#: statuses whose documented provider body proves a submit was refused, not half-done
REFUSAL_STATUSES = {400, 401, 402, 403, 404, 409, 413, 422, 429}
#: the longest pause a Retry-After may ask for; longer hints are clamped, never obeyed as given
MAX_RETRY_AFTER = 30.0
#: the longest single pause of any wait (waits of a job are shorter; this only keeps them finite)
MAX_WAIT = 3600.0
READ_CHUNK = 64 * 1024
WATCH_TICK = 0.05
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds on one request; the defaults suit the real providers, tests shrink them."""

    #: an API request from connect to its last byte (sync.so long-polls hold ≤ 10 s, §1.8)
    request_seconds: float = 60.0
    #: a transfer (upload, download) gets request_seconds plus its size at this rate (bytes/s)
    min_rate: float = 16 * 1024
    #: decoded bytes of an API answer (the real ones are a few KB)
    answer_bytes: int = 8 * 1024 * 1024
    #: nesting of an API answer's JSON (the real ones are ≤ 6 deep)
    json_depth: int = 64


DEFAULT_LIMITS = Limits()


def clamp_wait(seconds: Any, cap: float = MAX_RETRY_AFTER) -> float | None:
    """A pause a server asked for, made safe: None if unreadable (NaN, text), else within [0, cap]."""
    try:
        value = float(seconds)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(value):
        return None
    return min(cap, max(0.0, value))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), clamped to MAX_RETRY_AFTER.

    1e9, "inf", NaN and dates past year 9999 are a server's mistake, not an instruction (issue #13:
    they hung a poll or raised OverflowError); unreadable values give None (use our own backoff)."""
    if not value or not isinstance(value, str) or len(value) > 100:
        return None
    value = value.strip()
    try:
        return clamp_wait(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
        seconds = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, OverflowError, IndexError, AttributeError):
        return None
    return clamp_wait(seconds)


def retry_after_of(response: httpx.Response) -> float | None:
    ms = response.headers.get("retry-after-ms")
    if ms:
        try:
            hint = clamp_wait(float(ms) / 1000)
        except (ValueError, OverflowError):
            hint = None
        if hint is not None:
            return hint
    return parse_retry_after(response.headers.get("retry-after"))


def default_timeout() -> httpx.Timeout:
    # per socket operation; the total per request is Limits.request_seconds (read covers
    # sync.so long-polls, ≤10 s, providers.md §1.8, with margin)
    return httpx.Timeout(connect=15.0, read=60.0, write=120.0, pool=15.0)


# -- internal outcomes of one exchange ------------------------------------------------------------

class NotConnected(Exception):
    """The connection was never made: no byte of the request left this computer."""


class Interrupted(Exception):
    """The exchange broke after the request may have reached the server (lost, too slow)."""


class Unreadable(Exception):
    """A 2xx answer that cannot be read within the caps; `status` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class Watch:
    """The deadline and cancel watch of one request (see the module docstring)."""

    def __init__(self, http: Http, seconds: float) -> None:
        self.http = http
        self.started = time.monotonic()
        self.until = self.started + max(0.0, seconds)
        self.reason: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lipsync-watch", daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()

    def extend(self, seconds_from_start: float) -> None:
        """Move the deadline (transfers earn time as bytes arrive); never earlier than it is."""
        self.until = max(self.until, self.started + seconds_from_start)

    def _run(self) -> None:
        cancel = self.http.cancel
        while not self._done.wait(WATCH_TICK):
            if cancel is not None and cancel.is_set():
                self._abort("cancel")
                return
            if time.monotonic() > self.until:
                self._abort("deadline")
                return

    def _abort(self, reason: str) -> None:
        self.reason = reason
        self.http.abort_sockets()

    def check(self) -> None:
        """Raise now if the request is over (called between chunks, before the watchdog's tick)."""
        cancel = self.http.cancel
        if self.reason is None:
            if cancel is not None and cancel.is_set():
                self.reason = "cancel"
            elif time.monotonic() > self.until:
                self.reason = "deadline"
        if self.reason is not None:
            raise self.error()

    def error(self) -> Exception:
        if self.reason == "cancel":
            return Cancelled("cancelled by the user", self.http.provider)
        seconds = self.until - self.started
        return Interrupted(f"no complete answer within {seconds:.0f} s")


class Exchange:
    """An open streamed response plus its watch; `chunks()` yields decoded, bounded pieces."""

    def __init__(self, response: httpx.Response, watch: Watch) -> None:
        self.response = response
        self.watch = watch
        #: raw (on the wire) bytes received so far
        self.raw_bytes = 0

    def raw(self) -> Iterator[bytes]:
        for chunk in self.response.iter_raw(READ_CHUNK):
            self.raw_bytes += len(chunk)
            yield chunk
            self.watch.check()

    def chunks(self) -> Iterator[bytes]:
        """Decoded body pieces; raises UndecodableBody for an encoding we cannot or will not decode."""
        if self.response.is_stream_consumed:
            # an answer an injected transport built in memory: httpx already holds it decoded
            return decoded_chunks([self.response.content], None)
        return decoded_chunks(self.raw(), self.response.headers.get("content-encoding"))


def _body_size(args: dict[str, Any]) -> int:
    """Bytes a request body will carry (uploads earn transfer time), 0 when small or unknown."""
    content = args.get("content")
    if isinstance(content, (bytes, bytearray)):
        return len(content)
    total = getattr(content, "total", None)
    if isinstance(total, int):
        return total
    files = args.get("files")
    size = 0
    if isinstance(files, dict):
        for value in files.values():
            reader = value[1] if isinstance(value, tuple) and len(value) > 1 else value
            size += getattr(reader, "total", 0) if isinstance(getattr(reader, "total", 0), int) else 0
    return size


class Http:
    """One httpx.Client plus the retry policy; `sleep`/`clock` are injectable for fast tests.

    `stop_at` (in `clock` units) caps every request and wait: a job sets it while polling, so its
    poll deadline holds within a watchdog tick whatever the server does.
    """

    def __init__(self, provider: str, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 cancel: threading.Event | None = None, max_attempts: int = 5,
                 timeout: httpx.Timeout | None = None, limits: Limits | None = None) -> None:
        self.provider = provider
        self.sleep = sleep
        self.clock = clock
        self.cancel = cancel
        self.max_attempts = max_attempts
        self.limits = limits or DEFAULT_LIMITS
        self.stop_at: float | None = None
        #: requests whose bytes may have left this computer (a submit's caller reads the delta)
        self.requests_sent = 0
        self._timeout = timeout or default_timeout()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.client = httpx.Client(transport=transport, timeout=self._timeout,
                                   follow_redirects=False, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- sockets and aborts --------------------------------------------------------------------

    def _trace(self, name: str, info: dict[str, Any]) -> None:
        # httpcore reports each new connection (plain, then TLS): remember its socket so a
        # watchdog can shut it down; a reused keep-alive connection was remembered when made
        if name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with self._lock:
                    self._sockets.add(sock)

    def abort_sockets(self) -> None:
        """Shut down every socket of this client: a blocked send/recv on any thread wakes with an
        error. Instances live for one job, so these are that job's connections only."""
        with self._lock:
            socks = list(self._sockets)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- waiting -------------------------------------------------------------------------------

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled by the user", self.provider)

    def remaining(self) -> float | None:
        """Seconds left before `stop_at`, or None without one."""
        return None if self.stop_at is None else self.stop_at - self.clock()

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up (and raise Cancelled) when the cancel flag is set; never past stop_at."""
        self.check_cancel()
        value = clamp_wait(seconds, cap=MAX_WAIT) or 0.0
        left = self.remaining()
        if left is not None:
            value = min(value, max(0.0, left))
        if value <= 0:
            return
        if self.cancel is not None and self.sleep is time.sleep:
            if self.cancel.wait(value):
                raise Cancelled("cancelled by the user", self.provider)
        else:
            self.sleep(value)
            self.check_cancel()

    @staticmethod
    def backoff(attempt: int) -> float:
        return min(10.0, 0.5 * 2 ** attempt) * random.uniform(0.75, 1.25)

    # -- one exchange --------------------------------------------------------------------------

    def budget(self, transfer_bytes: int = 0) -> float:
        """Seconds the next request may take: its own allowance, within stop_at."""
        seconds = self.limits.request_seconds + transfer_bytes / self.limits.min_rate
        left = self.remaining()
        if left is not None:
            if left <= 0:
                raise ProviderUnavailable("the deadline for this job's requests has passed", self.provider)
            seconds = min(seconds, left)
        return seconds

    @contextlib.contextmanager
    def open(self, method: str, url: str, *, seconds: float, **args: Any) -> Iterator[Exchange]:
        """Send a request and yield its streamed answer, under one deadline of `seconds`.

        Raises Cancelled, NotConnected (nothing was sent) or Interrupted (something may have been).
        """
        t = self._timeout
        timeout = httpx.Timeout(connect=min(t.connect or seconds, seconds), read=min(t.read or seconds, seconds),
                                write=min(t.write or seconds, seconds), pool=min(t.pool or seconds, seconds))
        request = self.client.build_request(method, url, timeout=timeout, extensions={"trace": self._trace},
                                            **args)
        with Watch(self, seconds) as watch:
            self.requests_sent += 1
            try:
                response = self.client.send(request, stream=True)
            except _CONNECT_ERRORS as exc:
                self.requests_sent -= 1
                if watch.reason == "cancel":
                    raise watch.error() from None
                raise NotConnected(type(exc).__name__) from None
            except (httpx.TransportError, OSError) as exc:
                if watch.reason is not None:
                    raise watch.error() from None
                raise Interrupted(_what(exc)) from None
            try:
                yield Exchange(response, watch)
            except (httpx.TransportError, OSError) as exc:
                if watch.reason is not None:
                    raise watch.error() from None
                raise Interrupted(_what(exc)) from None
            finally:
                response.close()
            if watch.reason is not None:
                raise watch.error()

    def _exchange(self, method: str, url: str, args: dict[str, Any]) -> httpx.Response:
        """One request; the answer fully read, decoded and checked, as a plain httpx.Response."""
        limits = self.limits
        headers = dict(args.pop("headers", None) or {})
        if not any(k.lower() == "accept-encoding" for k in headers):
            headers["Accept-Encoding"] = API_ENCODINGS
        seconds = self.budget(_body_size(args))
        with self.open(method, url, seconds=seconds, headers=headers, **args) as ex:
            status = ex.response.status_code
            body = bytearray()
            problem = None
            try:
                for piece in ex.chunks():
                    body += piece
                    if len(body) > limits.answer_bytes:
                        problem = f"over {limits.answer_bytes} bytes"
                        break
            except UndecodableBody as exc:
                problem = str(exc)
            if problem is None and json_depth(bytes(body)) > limits.json_depth:
                problem = f"JSON nested deeper than {limits.json_depth} levels"
            response = ex.response
        if problem is not None:
            if status < 400:
                raise Unreadable(problem, status)
            # an error page we cannot read is still an error: its status alone speaks
            log.debug("%s %s: error body dropped (%s)", method, redact_url(url), problem)
            body = bytearray()
        kept = [(k, v) for k, v in response.headers.multi_items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(status, headers=kept, content=bytes(body), request=response.request,
                              extensions={"reason_phrase": response.extensions.get("reason_phrase", b""),
                                          "http_version": response.extensions.get("http_version", b"HTTP/1.1")})

    # -- requests ------------------------------------------------------------------------------

    def request(self, method: str, url: str, *, safe: bool,
                parse_error: Callable[[httpx.Response], LipsyncError],
                body: Callable[[], dict[str, Any]] | None = None,
                refusal: Callable[[httpx.Response], bool] | None = None, **kwargs: Any) -> httpx.Response:
        """Send with retries. `body()` rebuilds file/stream arguments for every attempt.

        `refusal(response)` says whether an error answer is the provider's own documented refusal;
        only such an answer lets an unsafe request end in anything but OutcomeUnknown.
        """
        check_url(url, provider=self.provider)
        shown = f"{method} {redact_url(url)}"
        last_error: LipsyncError | None = None
        for attempt in range(self.max_attempts):
            if attempt:
                log.debug("%s: retry %d", shown, attempt)
            self.check_cancel()
            args = dict(kwargs)
            if body is not None:
                args.update(body())
            try:
                response = self._exchange(method, url, args)
            except NotConnected as exc:
                # never reached the server: safe to retry even a paid submit
                last_error = ProviderUnavailable(f"could not connect ({exc})", self.provider)
                self.wait(self.backoff(attempt))
                continue
            except Interrupted as exc:
                if not safe:
                    raise _unknown(f"the connection broke after the request was sent ({exc})", self.provider) from None
                last_error = ProviderUnavailable(f"connection problem ({exc})", self.provider)
                self.wait(self.backoff(attempt))
                continue
            except Unreadable as exc:
                if not safe:
                    raise _unknown(f"the answer (HTTP {exc.status}) could not be read: {exc}", self.provider,
                                   status=exc.status) from None
                raise ProviderUnavailable(f"unreadable answer (HTTP {exc.status}, {exc})", self.provider,
                                          status=exc.status) from None
            log.debug("%s -> %d", shown, response.status_code)
            status = response.status_code
            if status < 400:
                return response
            if not safe:
                if status in REFUSAL_STATUSES and refusal is not None and _quietly(refusal, response, False):
                    raise self._error_of(parse_error, response)
                raise _unknown(f"the server answered HTTP {status} after receiving the submit", self.provider,
                               status=status)
            error = self._error_of(parse_error, response)
            if status not in RETRY_STATUSES or isinstance(error, (OutcomeUnknown, JobFailed)):
                raise error
            last_error = error
            if attempt + 1 < self.max_attempts:
                hint = retry_after_of(response)
                self.wait(hint if hint is not None else self.backoff(attempt))
        assert last_error is not None
        if isinstance(last_error, (RateLimited, ProviderUnavailable, OutcomeUnknown)) or not safe:
            raise last_error
        raise ProviderUnavailable(last_error.message, self.provider, status=last_error.status)

    def _error_of(self, parse_error: Callable[[httpx.Response], LipsyncError],
                  response: httpx.Response) -> LipsyncError:
        """The provider's reading of an error answer; a body its parser chokes on still gives one."""
        error = _quietly(parse_error, response, None)
        if isinstance(error, LipsyncError):
            return error
        status = response.status_code
        if status == 429:
            return RateLimited(f"rate limited (HTTP {status})", self.provider, retry_after=retry_after_of(response))
        if status >= 500 or status == 408:
            return ProviderUnavailable(f"server error HTTP {status}", self.provider, status=status)
        return InputError(f"the request was refused (HTTP {status})", self.provider, status=status)


def _quietly(fn: Callable[[httpx.Response], Any], response: httpx.Response, default: Any) -> Any:
    # provider parsers read hostile bodies: a parser bug must not turn into a generic crash
    try:
        return fn(response)
    except Exception as exc:  # noqa: BLE001
        log.debug("error-body parser failed: %s", type(exc).__name__)
        return default


def _what(exc: BaseException) -> str:
    return type(exc).__name__


def _unknown(what: str, provider: str, *, status: int | None = None) -> OutcomeUnknown:
    return OutcomeUnknown(f"{what}; the job may or may not have been created, so it was not sent again — "
                          "check the provider's dashboard before submitting again", provider, status=status)

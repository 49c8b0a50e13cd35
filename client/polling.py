"""Following an accepted job until it ends or its poll deadline passes.

A poll is only a question: a bad patch (server errors, answers the provider module cannot read)
is asked through a few times, never resubmitted. The deadline holds within a watchdog tick: it
caps every request and every pause (`Http.stop_at`), so a server that trickles its answer or asks
for a 1e9 s Retry-After cannot hold the job past it (issue #13). What the provider says is
untrusted text: messages are scrubbed of keys and bounded, numbers must be finite.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator

from .errors import JobFailed, LipsyncError, PollTimeout, ProviderUnavailable, RateLimited, scrub
from .events import Event, JobState, Status
from .providers import PollResult, Provider, RemoteRef
from .testhooks import crash_point
from .transport import Http, clamp_wait

log = logging.getLogger(__name__)

#: consecutive failed polls (each already retried by the transport) before the job is given up
POLL_TROUBLE_LIMIT = 5
MAX_MESSAGE = 300


def finite(value, low: float | None = None, high: float | None = None) -> float | None:
    """`value` as a float within [low, high], or None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(number):
        return None
    if low is not None and number < low:
        number = low
    if high is not None and number > high:
        number = high
    return number


def sanitize(result: PollResult) -> PollResult:
    """The provider's answer made safe to show, store and serialise as strict JSON."""
    if not isinstance(result.state, JobState):
        result.state = JobState.UNKNOWN
    result.message = scrub(str(result.message or ""))[:MAX_MESSAGE]
    result.progress = finite(result.progress, 0.0, 1.0)
    result.cost = finite(result.cost, 0.0)
    result.output_seconds = finite(result.output_seconds, 0.0)
    result.retry_after = clamp_wait(result.retry_after) if result.retry_after is not None else None
    result.outputs = [u for u in (result.outputs or []) if isinstance(u, str) and u]
    return result


def follow(provider: Provider, http: Http, ref: RemoteRef, deadline: float,
           clock: Callable[[], float], check_cancel: Callable[[], None]) -> Iterator[Event]:
    """Poll `ref` until it ends; returns the final PollResult (COMPLETED) or raises."""
    stop = clock() + deadline
    http.stop_at = stop
    try:
        return (yield from _loop(provider, http, ref, deadline, stop, clock, check_cancel))
    finally:
        http.stop_at = None


def _loop(provider, http, ref, deadline, stop, clock, check_cancel) -> Iterator[Event]:
    first, cap = provider.poll_interval
    interval = first
    last: tuple | None = None
    trouble = 0
    while True:
        check_cancel()
        if clock() >= stop:
            raise PollTimeout(f"still not finished after {deadline:g} s; the job may still be running — "
                              f"resume it later with its id {ref.remote_id}", provider.name)
        try:
            result = sanitize(provider.poll(ref))
        except LipsyncError as exc:
            if not isinstance(exc, (ProviderUnavailable, RateLimited)):
                raise
            trouble = _trouble(http, exc, trouble, cap, interval, clock, stop)
            continue
        except Exception as exc:  # noqa: BLE001 - the provider module choked on a garbage answer
            log.debug("unreadable poll answer: %r", exc)
            err = ProviderUnavailable(f"unreadable poll answer ({type(exc).__name__})", provider.name)
            trouble = _trouble(http, err, trouble, cap, interval, clock, stop)
            continue
        trouble = 0
        crash_point("polling")
        key = (result.state, result.progress, result.message)
        if result.state is JobState.COMPLETED:
            yield Status(JobState.COMPLETED, 1.0 if result.progress is None else result.progress, result.message)
            return result
        if key != last:
            yield Status(result.state, result.progress, result.message)
            last = key
        if result.state.terminal or result.error is not None:
            raise result.error or JobFailed(None, f"the job ended as {result.state.value}", provider.name,
                                            rejected=result.state is JobState.REJECTED)
        pause = min(result.retry_after, cap) if result.retry_after is not None else interval
        http.wait(pause)
        interval = min(cap, interval * 1.5)


def _trouble(http: Http, exc: LipsyncError, trouble: int, cap: float, interval: float,
             clock: Callable[[], float], stop: float) -> int:
    """Count one failed poll and pause before the next; the last one, or the deadline, ends it."""
    if clock() >= stop:
        return trouble  # the loop's deadline check ends the job as resumable
    trouble += 1
    if trouble > POLL_TROUBLE_LIMIT:
        raise exc
    log.debug("poll trouble %d: %s", trouble, exc)
    hint = getattr(exc, "retry_after", None)
    http.wait(clamp_wait(hint) if hint is not None else min(cap, interval * 2 ** trouble))
    return trouble

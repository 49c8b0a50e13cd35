"""`iter_job_events`: one lip-sync job as a blocking generator of typed events.

The host (Blender worker thread, CLI loop) drives it; it never raises. The order is
validate -> upload -> submit -> poll -> download, with the cancel flag checked between steps
and during every wait. It ends with exactly one Completed or Failed.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from .capabilities import COST_ENDPOINT, validate
from .config import ENV_KEYS, ProviderConfig
from .download import download, extension_of
from .errors import (
    AuthError, Cancelled, InputError, JobFailed, LipsyncError, OutcomeUnknown, PollTimeout, ProviderUnavailable, RateLimited,
    humanize, scrub,
)
from .events import Completed, Downloading, Event, Failed, JobState, Status, Submitted, Uploaded, Uploading
from .models import JobRequest
from .providers import PollResult, RemoteRef, provider_class
from .testhooks import crash_point
from .transport import Http
from .uploads import DEFAULT_CACHE, UploadCache, file_sha256, key_fingerprint

log = logging.getLogger(__name__)

__all__ = ["RemoteRef", "iter_job_events", "is_url", "remote_estimate"]

#: consecutive failed polls (each already retried by the transport) before the job is given up
POLL_TROUBLE_LIMIT = 5
#: submits re-sent after an unreadable 2xx answer, where the provider de-duplicates them
UNREADABLE_SUBMIT_RETRIES = 2
#: how long a submit waits for a free slot when the provider says 429 (concurrency / rate limit).
#: A 429 proves the job was not created, so waiting is safe for every provider; real jobs take
#: minutes, so a batch bigger than the plan's cap must wait, not fail (providers.md §1.12, §6 #8).
RATE_LIMIT_PATIENCE = 3600.0
# Remote ids come back from a saved file on resume (a .blend may come from someone else): they
# only ever fill one path segment of a URL rebuilt from the configured base (issue #6).
_REMOTE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def iter_job_events(
    request: JobRequest,
    config: ProviderConfig,
    out_dir: str | os.PathLike,
    *,
    out_stem: str = "lipsync",
    resume: RemoteRef | None = None,
    cancel: threading.Event | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_deadline: float = 6 * 3600,
    on_submitting: Callable[[str], None] | None = None,
    upload_cache: UploadCache | None = None,
    max_download_bytes: int | None = None,
    poll_interval: float | None = None,
) -> Iterator[Event]:
    """Run one job. `on_submitting(client_key)` is called right before the first submit attempt.

    With `resume`, upload and submit are skipped and the remote job is polled (never resubmitted).
    `poll_interval` replaces the provider's first poll interval (tests, impatient CLIs).
    """
    remote_id = resume.remote_id if resume else None
    current: RemoteRef | None = resume
    http: Http | None = None
    runner: _Runner | None = None
    try:
        if request.provider != config.provider:
            raise InputError(f"the request is for {request.provider} but the config is for {config.provider}")
        if not out_stem or out_stem in (".", "..") or os.path.basename(out_stem) != out_stem or "/" in out_stem:
            raise InputError(f"the output name {out_stem!r} must be a plain file name")
        if resume is not None:
            check_remote_ref(resume, config.provider)
        if not resume:
            validate(request)
        if not config.api_key:
            raise AuthError(f"no API key: set {ENV_KEYS[config.provider]} or the add-on preferences",
                            config.provider)
        http = Http(config.provider, transport=transport, sleep=sleep, clock=clock, cancel=cancel)
        provider = provider_class(config.provider)(config, http)
        if poll_interval is not None:
            provider.poll_interval = (poll_interval, poll_interval * 10)
        runner = _Runner(request, provider, http, cancel, clock, upload_cache or DEFAULT_CACHE)

        crash_point("started")
        if resume is None:
            refs = yield from runner.upload_all()
            runner.check_cancel()
            if on_submitting is not None:
                on_submitting(request.client_key)
            ref = yield from runner.submit(refs)
            remote_id, current = ref.remote_id, ref
            crash_point("submitted")
            yield Submitted(ref.remote_id, dict(ref.extra))
        else:
            ref = resume
        result = yield from runner.wait(ref, poll_deadline)
        outputs = yield from runner.download_all(result, Path(out_dir), out_stem, max_download_bytes)
        crash_point("downloaded")
        yield Completed(ref.remote_id, outputs, result.cost, result.output_seconds)
    except LipsyncError as exc:
        if exc.provider is None:
            exc.provider = config.provider
        if isinstance(exc, (JobFailed, InputError)) and runner is not None:
            # a reused upload may be what failed (expired on the provider's side): upload afresh next time
            runner.forget_reused()
        if isinstance(exc, Cancelled) and http is not None and current is not None:
            _try_cancel(http, config, current)
        log.info("job failed: %s", exc.human())
        yield Failed(_state_of(exc), exc, remote_id)
    except Exception as exc:  # never raise into the host's worker thread
        # the traceback goes to the log scrubbed: an exception text may quote a header or a body
        log.error("unexpected error in lip-sync job:\n%s",
                  scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
        err = LipsyncError(f"unexpected {type(exc).__name__}: {scrub(str(exc))}", config.provider)
        yield Failed(JobState.FAILED, err, remote_id)
    finally:
        if http is not None:
            http.close()


def check_remote_ref(ref: RemoteRef, provider: str) -> None:
    """A saved remote id must look like one: it is pasted into a URL path on the configured host."""
    if not isinstance(ref.remote_id, str) or not _REMOTE_ID.fullmatch(ref.remote_id):
        raise InputError("the saved job id is not a valid remote id; the record may have been edited", provider)
    if not isinstance(ref.extra, dict):
        raise InputError("the saved resume data is not valid", provider)


def unreadable_answer(exc: LipsyncError) -> bool:
    """The server answered 2xx but the body could not be read (cut-off JSON, not an object)."""
    if isinstance(exc, ProviderUnavailable):
        return exc.status is not None and exc.status < 400
    return type(exc) is LipsyncError


def _state_of(exc: LipsyncError) -> JobState:
    if isinstance(exc, Cancelled):
        return JobState.CANCELLED
    if isinstance(exc, OutcomeUnknown):
        return JobState.UNKNOWN
    if isinstance(exc, JobFailed) and exc.rejected:
        return JobState.REJECTED
    return JobState.FAILED


def _try_cancel(http: Http, config: ProviderConfig, ref: RemoteRef) -> None:
    """Best effort remote cancel (fal has one); the cancel flag is already set, so clear waits."""
    try:
        http.cancel = None
        provider_class(config.provider)(config, http).cancel(ref)
    except Exception as exc:  # a failed cancel must not hide the cancellation itself
        log.debug("remote cancel failed: %s", humanize(exc))


class _Runner:
    def __init__(self, request: JobRequest, provider, http: Http, cancel, clock, cache: UploadCache) -> None:
        self.request = request
        self.provider = provider
        self.http = http
        self.cancel = cancel
        self.clock = clock
        self.cache = cache
        self.reused: list[tuple] = []

    def forget_reused(self) -> None:
        for where in self.reused:
            self.cache.forget(*where)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled by the user", self.provider.name)

    # -- uploads -------------------------------------------------------------------------------

    def upload_all(self) -> Iterator[Event]:
        req = self.request
        items = [("video", "video", req.video)] + [(a.id, "audio", a.path) for a in req.audio]
        for name, _, path in items:
            if not is_url(path) and not os.path.isfile(path):
                raise InputError(f"{name} file not found: {path}", self.provider.name)
        refs: dict[str, str] = {}
        for name, kind, path in items:
            self.check_cancel()
            if is_url(path):
                refs[name] = path
                continue
            refs[name] = yield from self.upload_one(name, kind, path)
        return refs

    def upload_one(self, name: str, kind: str, path: str) -> Iterator[Event]:
        cfg = self.provider.config
        digest = file_sha256(path)
        where = (cfg.provider, cfg.host(), key_fingerprint(cfg.api_key), digest)
        cached = self.cache.get(*where) or self.provider.find_uploaded(path, kind, digest)
        if cached:
            self.cache.put(*where, cached)
            self.reused.append(where)
            yield Uploaded(name, cached, True)
            return cached
        total = os.path.getsize(path)
        yield Uploading(name, 0, total)
        for attempt in range(2):
            try:
                ref = yield from _relay(lambda report: self.provider.upload(path, kind, report),
                                        lambda sent, tot: Uploading(name, sent, tot), self.cancel)
                break
            except LipsyncError as exc:
                # an upload is content, not a job: re-sending after an unreadable answer is safe
                if attempt or not unreadable_answer(exc):
                    raise
                log.debug("unreadable upload answer (%s): uploading %s again", exc, name)
        self.cache.put(*where, ref)
        yield Uploading(name, total, total)
        yield Uploaded(name, ref, False)
        return ref

    # -- submit --------------------------------------------------------------------------------

    def submit(self, refs: dict[str, str]) -> Iterator[Event]:
        """Submit, waiting out the provider's concurrency limit (429: nothing was created)."""
        started = self.clock()
        told = False
        while True:
            try:
                return self.submit_once(refs)
            except RateLimited as exc:
                waited = self.clock() - started
                if waited >= RATE_LIMIT_PATIENCE:
                    raise
                if not told:
                    yield Status(JobState.QUEUED, None, "the provider's concurrency limit is reached: waiting "
                                                        "for a free slot (nothing is billed meanwhile)")
                    told = True
                self.http.wait(min(RATE_LIMIT_PATIENCE - waited,
                                   exc.retry_after if exc.retry_after is not None else 5.0))

    def submit_once(self, refs: dict[str, str]) -> RemoteRef:
        """Submit once; an accepted submit whose answer is unreadable is the ambiguous case:
        re-sent with the same key where the provider de-duplicates it (the replay answers with the
        job), otherwise OutcomeUnknown: the job may exist, re-sending could pay twice."""
        provider = self.provider
        retries = UNREADABLE_SUBMIT_RETRIES if provider.idempotent_submit else 0
        for attempt in range(retries + 1):
            try:
                return provider.submit(self.request, refs)
            except LipsyncError as exc:
                if not unreadable_answer(exc):
                    raise
                log.debug("unreadable submit answer (%s), attempt %d", exc, attempt + 1)
                if attempt < retries:
                    self.http.wait(self.http.backoff(attempt))
                    continue
                if provider.idempotent_submit:
                    raise OutcomeUnknown(f"the submit answer could not be read ({exc.message}); re-attaching "
                                         "re-sends it with the same idempotency key, which is never billed twice",
                                         provider.name) from None
                raise OutcomeUnknown(f"the provider answered the submit but the answer could not be read "
                                     f"({exc.message}); the job may or may not have been created, so it was not "
                                     "sent again — check the provider's dashboard before submitting again",
                                     provider.name) from None
        raise AssertionError("unreachable")

    # -- polling -------------------------------------------------------------------------------

    def wait(self, ref: RemoteRef, deadline: float) -> Iterator[Event]:
        start = self.clock()
        first, cap = self.provider.poll_interval
        interval = first
        last: tuple | None = None
        trouble = 0
        while True:
            self.check_cancel()
            try:
                result: PollResult = self.provider.poll(ref)
            except (ProviderUnavailable, RateLimited) as exc:
                # a poll is only a question: keep asking through a bad patch (the transport has
                # already retried this request), but not forever
                trouble += 1
                if trouble > POLL_TROUBLE_LIMIT:
                    raise
                log.debug("poll trouble %d: %s", trouble, exc)
                self.http.wait(getattr(exc, "retry_after", None) or min(cap, interval * 2 ** trouble))
                continue
            trouble = 0
            crash_point("polling")
            key = (result.state, result.progress, result.message)
            if key != last and result.state is not JobState.COMPLETED:
                yield Status(result.state, result.progress, result.message)
                last = key
            if result.state is JobState.COMPLETED:
                yield Status(JobState.COMPLETED, 1.0 if result.progress is None else result.progress,
                             result.message)
                return result
            if result.state.terminal or result.error is not None:
                err = result.error or JobFailed(None, f"the job ended as {result.state.value}", self.provider.name,
                                                rejected=result.state is JobState.REJECTED)
                raise err
            if self.clock() - start > deadline:
                raise PollTimeout(f"still not finished after {deadline:g} s; the job may still be running — "
                                  f"resume it later with its id {ref.remote_id}", self.provider.name)
            pause = min(result.retry_after, cap) if result.retry_after is not None else interval
            self.http.wait(pause)
            interval = min(cap, interval * 1.5)

    # -- downloads -----------------------------------------------------------------------------

    def download_all(self, result: PollResult, out_dir: Path, stem: str, cap: int | None) -> Iterator[Event]:
        if not result.outputs:
            raise JobFailed("output_missing", "the job completed but returned no output URL", self.provider.name)
        fmt = (self.request.options.output_format or "").lower()
        default_ext = f".{fmt}" if fmt else ".mp4"
        paths: list[str] = []
        for i, url in enumerate(result.outputs):
            self.check_cancel()
            name = stem if i == 0 else f"{stem}_{i + 1}"
            dest = out_dir / (name + extension_of(url, default_ext))
            kwargs: dict[str, Any] = {} if cap is None else {"max_bytes": cap}
            path = yield from _relay(
                lambda report, url=url, dest=dest: download(self.http, url, dest, progress=report, **kwargs),
                lambda got, total: Downloading(got, total), self.cancel)
            paths.append(str(path))
        return paths


def _relay(work: Callable[[Callable[[int, Any], None]], Any], make: Callable[[int, Any], Event],
           cancel: threading.Event | None = None, every: float = 0.2) -> Iterator[Event]:
    """Run blocking `work(report)` in a helper thread and yield its progress as events.

    Uploads and downloads happen inside one httpx call; the thread lets the generator hand live
    byte counts to its host meanwhile. Reports are throttled to one per `every` seconds.
    """
    events: queue.Queue = queue.Queue()
    outcome: dict[str, Any] = {}
    last = [0.0]

    def report(done: int, total: Any) -> None:
        if cancel is not None and cancel.is_set():
            # raised inside httpx's body iteration: aborts a long upload mid-way
            raise Cancelled("cancelled by the user")
        now = time.monotonic()
        if now - last[0] >= every:
            last[0] = now
            events.put(make(done, total))

    def target() -> None:
        try:
            outcome["value"] = work(report)
        except BaseException as exc:  # handed back to the generator's thread
            outcome["error"] = exc
        finally:
            events.put(None)

    thread = threading.Thread(target=target, name="lipsync-transfer", daemon=True)
    thread.start()
    while True:
        item = events.get()
        if item is None:
            break
        yield item
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def remote_estimate(request: JobRequest, config: ProviderConfig, *, transport: httpx.BaseTransport | None = None,
                    upload_cache: UploadCache | None = None) -> float | None:
    """The provider's own price for `request` in USD, where it has a cost endpoint (sync.so, §1.2).

    Local files are uploaded first (through the reuse cache, so a later run does not upload
    them again). Returns None for providers without such an endpoint. Raises LipsyncError.
    """
    validate(request)
    if config.provider not in COST_ENDPOINT:
        return None
    provider_type = provider_class(config.provider)
    with Http(config.provider, transport=transport) as http:
        provider = provider_type(config, http)
        runner = _Runner(request, provider, http, None, time.monotonic, upload_cache or DEFAULT_CACHE)
        steps = runner.upload_all()
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                refs = stop.value
                break
        return provider.estimate_cost(request, refs)

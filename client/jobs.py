"""`iter_job_events`: one lip-sync job as a blocking generator of typed events.

The host (Blender worker thread, CLI loop) drives it; it never raises. The order is
validate -> upload -> submit -> poll -> download, with the cancel flag checked between steps
and during every wait (the transport aborts an in-flight request on cancel). It ends with
exactly one Completed or Failed.

Paying once (issue #13), what a host relies on:
- `Submitting` comes right before the first paid POST and carries what a byte-identical resubmit
  needs (client key, uploaded refs, the request as JSON). The generator does not send anything
  until the host asks for the next event, so a host that saves it first has it on disk before any
  money can move. Resubmitting = `iter_job_events(JobRequest.from_json(ev.request_json), ...,
  uploaded=ev.refs)`: no upload, the same body bytes, the same key.
- `Submitted` means the provider holds the job (its remote id): from then on only polling
  (`resume=RemoteRef(...)`), never a submit.
- `Failed.accepted` is True once the provider holds the job, False when it provably does not
  (nothing was sent, or the provider refused it), None when nobody can tell (state UNKNOWN).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import queue
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
    AuthError, Cancelled, InputError, JobFailed, LipsyncError, OutcomeUnknown, humanize, scrub,
)
from .events import Completed, Downloading, Event, Failed, JobState, Submitted, Submitting, Uploaded, Uploading
from .models import JobRequest
from .polling import finite, follow
from .providers import PollResult, RemoteRef, provider_class
from .providers.base import crop_segments
from .submitting import REMOTE_ID, Submitter, unreadable_answer
from .testhooks import crash_point
from .transport import Http, Limits
from .uploads import DEFAULT_CACHE, UploadCache, check_local_media, file_sha256, key_fingerprint, ref_problem

log = logging.getLogger(__name__)

__all__ = ["RemoteRef", "iter_job_events", "is_url", "remote_estimate"]

_REMOTE_ID = REMOTE_ID


def is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))


def iter_job_events(
    request: JobRequest,
    config: ProviderConfig,
    out_dir: str | os.PathLike,
    *,
    out_stem: str = "lipsync",
    out_file: str | os.PathLike | None = None,
    resume: RemoteRef | None = None,
    uploaded: dict[str, str] | None = None,
    cancel: threading.Event | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll_deadline: float = 6 * 3600,
    on_submitting: Callable[[str], None] | None = None,
    upload_cache: UploadCache | None = None,
    max_download_bytes: int | None = None,
    poll_interval: float | None = None,
    limits: Limits | None = None,
) -> Iterator[Event]:
    """Run one job. `on_submitting(client_key)` is called right before the first submit attempt.

    With `resume`, upload and submit are skipped and the remote job is polled (never resubmitted).
    With `uploaded` ({"video": ref, "<audio id>": ref}, as a Submitting event carried them), those
    inputs are not uploaded again, so a resubmit under the same key sends the same bytes.
    `out_file` names the first output exactly (others get `_2`, `_3` before its suffix); without
    it outputs go to `out_dir/out_stem<ext of the URL>`. `poll_interval` replaces the provider's
    first poll interval (tests, impatient CLIs); `limits` bounds each request (transport.Limits).
    """
    track = _Track(phase="accepted" if resume else "local", remote_id=resume.remote_id if resume else None,
                   current=resume)
    http: Http | None = None
    runner: _Runner | None = None
    try:
        _check_start(request, config, out_stem, resume, uploaded)
        http = Http(config.provider, transport=transport, sleep=sleep, clock=clock, cancel=cancel, limits=limits)
        provider = provider_class(config.provider)(config, http)
        if poll_interval is not None:
            provider.poll_interval = (poll_interval, poll_interval * 10)
        runner = _Runner(request, provider, http, cancel, clock, upload_cache or DEFAULT_CACHE)
        yield from _steps(runner, track, resume, uploaded, on_submitting, poll_deadline,
                          (out_file, Path(out_dir), out_stem), max_download_bytes)
    except LipsyncError as exc:
        if exc.provider is None:
            exc.provider = config.provider
        if isinstance(exc, (JobFailed, InputError)) and runner is not None:
            # a reused upload may be what failed (expired on the provider's side): upload afresh next time
            runner.forget_reused()
        if isinstance(exc, Cancelled) and http is not None and track.current is not None:
            _try_cancel(http, config, track.current)
        log.info("job failed: %s", exc.human())
        yield Failed(_state_of(exc), exc, track.remote_id, track.accepted(exc, http))
    except Exception as exc:  # noqa: BLE001 - never raise into the host's worker thread
        # the traceback goes to the log scrubbed: an exception text may quote a header or a body
        log.error("unexpected error in lip-sync job:\n%s",
                  scrub("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
        err = LipsyncError(f"unexpected {type(exc).__name__}: {scrub(str(exc))}", config.provider)
        accepted = track.accepted(err, http)
        # a local bug once the submit may have left cannot tell what the provider did
        yield Failed(JobState.UNKNOWN if accepted is None else JobState.FAILED, err, track.remote_id, accepted)
    finally:
        if http is not None:
            http.close()


@dataclasses.dataclass
class _Track:
    """How far a job got: what its Failed event can say about the provider holding it."""

    phase: str  # local -> submitting -> accepted
    remote_id: str | None = None
    current: RemoteRef | None = None
    sent_before_submit: int = 0

    def accepted(self, exc: LipsyncError, http: Http | None) -> bool | None:
        if self.phase == "accepted":
            return True
        if self.phase == "local" or http is None or http.requests_sent == self.sent_before_submit:
            return False  # nothing of the submit left this computer
        return None if isinstance(exc, OutcomeUnknown) or type(exc) is LipsyncError else False


def _check_start(request: JobRequest, config: ProviderConfig, out_stem: str, resume: RemoteRef | None,
                 uploaded: dict[str, str] | None) -> None:
    """Everything checked before the first request (nothing is sent when any of it fails)."""
    if request.provider != config.provider:
        raise InputError(f"the request is for {request.provider} but the config is for {config.provider}")
    if not out_stem or out_stem in (".", "..") or os.path.basename(out_stem) != out_stem or "/" in out_stem:
        raise InputError(f"the output name {out_stem!r} must be a plain file name")
    if resume is not None:
        check_remote_ref(resume, config.provider)
    else:
        validate(request)
        check_uploaded(uploaded, request, config.provider)
    if not config.api_key:
        raise AuthError(f"no API key: set {ENV_KEYS[config.provider]} or the add-on preferences", config.provider)


def _steps(runner: _Runner, track: _Track, resume: RemoteRef | None, uploaded: dict[str, str] | None,
           on_submitting: Callable[[str], None] | None, poll_deadline: float, out: tuple,
           max_download_bytes: int | None) -> Iterator[Event]:
    """Upload -> submit -> poll -> download; `track` follows how far the job got."""
    provider, http, request = runner.provider, runner.http, runner.request
    crash_point("started")
    if resume is None:
        refs = yield from runner.upload_all(uploaded or {})
        runner.check_cancel()
        submit_request = materialized(request)
        # the host saves this before asking for more: the next step is the paid POST
        yield Submitting(request.client_key, dict(refs), submit_request.to_json(), provider.idempotent_submit)
        runner.check_cancel()
        if on_submitting is not None:
            on_submitting(request.client_key)
        track.phase, track.sent_before_submit = "submitting", http.requests_sent
        ref = yield from Submitter(provider, http, submit_request, runner.clock).submit(refs)
        track.phase, track.remote_id, track.current = "accepted", ref.remote_id, ref
        crash_point("submitted")
        yield Submitted(ref.remote_id, dict(ref.extra))
    else:
        ref = resume
    result = yield from follow(provider, http, ref, poll_deadline, runner.clock, runner.check_cancel)
    out_file, out_dir, out_stem = out
    outputs = yield from runner.download_all(result, out_file, out_dir, out_stem, max_download_bytes,
                                             job_tag(ref.remote_id))
    crash_point("downloaded")
    yield Completed(ref.remote_id, outputs, finite(result.cost, 0.0), finite(result.output_seconds, 0.0))


def materialized(request: JobRequest) -> JobRequest:
    """The request as it will be sent, with nothing left to read from local files: a cropped single
    audio becomes its explicit segment (the crop needs the video's length, and a resubmit may
    come when the cut files are gone). The body built from either is the same bytes."""
    if request.segments or not any(a.start is not None for a in request.audio):
        return request
    segments = crop_segments(request)
    return dataclasses.replace(request, segments=segments) if segments else request


def job_tag(remote_id: str) -> str:
    """A short name of one job for its temp files: the same across resumes, different between jobs."""
    return hashlib.sha256(remote_id.encode("utf-8", "replace")).hexdigest()[:12]


def check_remote_ref(ref: RemoteRef, provider: str) -> None:
    """A saved remote id must look like one: it is pasted into a URL path on the configured host."""
    if not isinstance(ref.remote_id, str) or not _REMOTE_ID.fullmatch(ref.remote_id):
        raise InputError("the saved job id is not a valid remote id; the record may have been edited", provider)
    if not isinstance(ref.extra, dict):
        raise InputError("the saved resume data is not valid", provider)


def check_uploaded(uploaded: dict[str, str] | None, request: JobRequest, provider: str) -> None:
    """Refs from a saved Submitting event: only for this request's inputs, and plain strings."""
    if uploaded is None:
        return
    names = {"video"} | {a.id for a in request.audio}
    if not isinstance(uploaded, dict) or not set(uploaded) <= names:
        raise InputError("the saved uploads do not match this request's inputs", provider)
    for name, ref in uploaded.items():
        if ref_problem(ref):
            raise InputError(f"the saved upload of {name} is not a valid reference", provider)


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
    except Exception as exc:  # noqa: BLE001 - a failed cancel must not hide the cancellation itself
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

    def upload_all(self, uploaded: dict[str, str]) -> Iterator[Event]:
        req = self.request
        items = [("video", "video", req.video)] + [(a.id, "audio", a.path) for a in req.audio]
        for name, kind, path in items:
            if name not in uploaded and not is_url(path):
                # every local file is checked before the first byte goes out
                check_local_media(path, kind, name, self.provider.name)
        refs: dict[str, str] = {}
        for name, kind, path in items:
            self.check_cancel()
            if name in uploaded:
                refs[name] = uploaded[name]
                yield Uploaded(name, uploaded[name], True)
            elif is_url(path):
                refs[name] = path
            else:
                refs[name] = yield from self.upload_one(name, kind, path)
        return refs

    def upload_one(self, name: str, kind: str, path: str) -> Iterator[Event]:
        cfg = self.provider.config
        digest = file_sha256(path)
        where = (cfg.provider, cfg.host(), key_fingerprint(cfg.api_key), digest)
        cached = self.cache.get(*where) or _quiet_find(self.provider, path, kind, digest)
        if cached and not ref_problem(cached):
            self.cache.put(*where, cached)
            self.reused.append(where)
            yield Uploaded(name, cached, True)
            return cached
        total = os.path.getsize(path)
        yield Uploading(name, 0, total)
        for attempt in range(2):
            try:
                ref = yield from _relay(lambda report: self._upload(path, kind, report),
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

    def _upload(self, path: str, kind: str, report) -> str:
        """One upload; an answer the provider module chokes on, or a ref we cannot send, is unreadable."""
        try:
            ref = self.provider.upload(path, kind, report)
        except LipsyncError:
            raise
        except Exception as exc:  # noqa: BLE001
            log.debug("upload answer broke the %s parser: %r", self.provider.name, exc)
            raise LipsyncError(f"the upload answer could not be read ({type(exc).__name__})",
                               self.provider.name) from None
        problem = ref_problem(ref)
        if problem:
            raise LipsyncError(f"the upload answer carried {problem}", self.provider.name)
        return ref

    # -- downloads -----------------------------------------------------------------------------

    def download_all(self, result: PollResult, out_file, out_dir: Path, stem: str, cap: int | None,
                     tag: str) -> Iterator[Event]:
        if not result.outputs:
            raise JobFailed("output_missing", "the job completed but returned no output URL", self.provider.name)
        fmt = (self.request.options.output_format or "").lower()
        default_ext = f".{fmt}" if fmt else ".mp4"
        paths: list[str] = []
        for i, url in enumerate(result.outputs):
            self.check_cancel()
            if out_file is not None:
                first = Path(out_file)
                dest = first if i == 0 else first.with_name(f"{first.stem}_{i + 1}{first.suffix}")
            else:
                name = stem if i == 0 else f"{stem}_{i + 1}"
                dest = out_dir / (name + extension_of(url, default_ext))
            kwargs: dict[str, Any] = {} if cap is None else {"max_bytes": cap}
            path = yield from _relay(
                lambda report, url=url, dest=dest, kwargs=kwargs: download(
                    self.http, url, dest, progress=report, tag=tag, **kwargs),
                lambda got, total: Downloading(got, total), self.cancel)
            paths.append(str(path))
        return paths


def _quiet_find(provider, path: str, kind: str, digest: str) -> str | None:
    # a dedup lookup is an optimisation: any failure (a garbage answer included) means "upload it"
    try:
        return provider.find_uploaded(path, kind, digest)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001
        log.debug("upload lookup failed: %r", exc)
        return None


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
        except BaseException as exc:  # noqa: BLE001 - handed back to the generator's thread
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
        steps = runner.upload_all({})
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                refs = stop.value
                break
        return provider.estimate_cost(request, refs)

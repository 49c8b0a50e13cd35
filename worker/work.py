"""The one worker entry point: a frozen WorkOrder in, events out (docs/architecture.md step 3).

`run(order, cancel, emit)` runs in a runtime worker thread (worker/runtime.py). It never touches
bpy: everything it needs was snapshotted on the main thread into the order, and everything it
learns goes back through `emit(event)` (worker/events.py).

A new job: fingerprint first (a cache hit prepares, uploads and submits nothing), then cut the
media (worker/media.py), then drive the client's job generator. A resumed job (`order.resume`
set) only polls and downloads the remote job it names: it is never submitted again. A resubmit
(`order.uploaded` set: an artist's explicit Retry of a job the provider never confirmed) sends the
recorded request with the recorded uploads under the recorded key, so the body is byte-identical
and an idempotent provider bills it at most once (docs/architecture.md "Money").

Before the paid POST the worker hands the client's Submitting event to the main thread and waits
until the record holds it (BeforeSubmit); if that does not happen within SAVE_DEADLINE (the record
was deleted, Blender is stuck), the job ends without sending anything.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import threading
from collections.abc import Callable
from typing import Any

from ..client.config import ProviderConfig
from ..client.errors import Cancelled, LipsyncError
from ..client.models import JobRequest, Options
from .events import BeforeSubmit, CacheHit, Fingerprinted, Joined, Phase, Prepared, Submitting
from .fingerprint import fingerprint
from . import joins, media
from .plan import StripJob


@dataclasses.dataclass(frozen=True)
class WorkOrder:
    """Everything a worker needs for one job, read on the main thread (no bpy object inside).

    strip_job   the plan to cut (None when resuming: nothing is cut again)
    options     client Options as a plain dict (speaker frames already count upload frames)
    client_key  the idempotency key / Runware taskUUID recorded before any network call
    out_dir/out_stem  where the result goes (a folder vse/folders.py trusts)
    overrides   per-part options by part index (worker/media.py)
    resume      a client RemoteRef to poll instead of submitting
    request_json  the recorded JobRequest (resume and resubmit)
    uploaded    the recorded upload refs of a resubmit (nothing is cut or uploaded again)
    known       fingerprint -> job id of finished jobs whose results still exist (the cache)
    join        a running job with the same fingerprint is joined instead of paying again
                (worker/joins.py); off when the artist asked for a fresh run (cache off)
    """

    job_id: str
    strip_job: StripJob | None
    provider: str
    model: str
    options: dict
    client_key: str
    config: ProviderConfig
    work_dir: str
    out_dir: str
    out_stem: str
    use_segments: bool = True
    overrides: dict = dataclasses.field(default_factory=dict)
    resume: Any = None
    request_json: str = ""
    uploaded: dict = dataclasses.field(default_factory=dict)
    poll_interval: float | None = None
    known: dict = dataclasses.field(default_factory=dict)
    join: bool = False


#: how long the worker waits for the main thread to save a job's submit before it gives up unsent
SAVE_DEADLINE = 60.0
SAVE_TICK = 0.05


def hash_files(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:32]


def run(order: WorkOrder, cancel: threading.Event, emit: Callable[[Any], None]) -> None:
    """WORKER THREAD. Emit the job's events; raise only for bugs (the runtime reports them)."""
    # Late import: the job code pulls in httpx and the providers (53 ms measured). Importing it
    # here keeps that cost off the main thread and out of the add-on's enable time (tools/bench enable).
    from ..client.jobs import iter_job_events

    try:
        if order.resume is not None or order.uploaded:
            request = JobRequest.from_json(order.request_json)
        else:
            request = _prepare(order, cancel, emit)
            if request is None:
                return
        os.makedirs(order.out_dir, exist_ok=True)
        events = iter_job_events(request, order.config, order.out_dir, out_stem=order.out_stem,
                                 resume=order.resume, uploaded=order.uploaded or None, cancel=cancel,
                                 on_submitting=lambda *_: emit(Phase("SUBMITTING")),
                                 poll_interval=order.poll_interval)
        try:
            for event in events:
                if isinstance(event, Submitting):
                    _save_before_paying(event, cancel, emit)
                else:
                    emit(event)
        finally:
            events.close()      # an exception above stops the job where it is: before the POST
    finally:
        # the cut upload files are not needed any more: a re-attach only polls, a resubmit or a
        # retry cuts again from the strips (the strip's own file is never in work_dir)
        shutil.rmtree(order.work_dir, ignore_errors=True)


def _save_before_paying(event: Submitting, cancel: threading.Event, emit) -> None:
    """Hand the submit to the main thread and wait until the record holds it (or give up unsent)."""
    deadline = SAVE_DEADLINE        # read per call: tests shorten it
    barrier = BeforeSubmit(event)
    emit(barrier)
    waited = 0.0
    while not barrier.saved.wait(SAVE_TICK):
        if cancel.is_set():
            raise Cancelled("cancelled before the job was sent")
        waited += SAVE_TICK
        if waited >= deadline:
            raise LipsyncError(f"Blender did not record the job within {deadline:.0f} s, so it was not sent")


def _prepare(order: WorkOrder, cancel: threading.Event, emit) -> JobRequest | None:
    """The cache check, then the cut media as a JobRequest; None on a cache hit."""
    key = fingerprint(order.strip_job, provider=order.provider, model=order.model, options=order.options,
                      use_segments=order.use_segments, overrides=order.overrides)
    emit(Fingerprinted(key))
    if key in order.known:
        emit(CacheHit(order.known[key], key))
        return None
    if order.join:
        leader = joins.claim(key, order.job_id)
        if leader != order.job_id:
            emit(Joined(leader, key))
            return None
    emit(Phase("PREPARING"))
    prepared = media.prepare_media(order.strip_job, order.work_dir, use_segments=order.use_segments,
                             segment_overrides=order.overrides, cancel=cancel)
    request = JobRequest(provider=order.provider, model=order.model, video=prepared.video_path,
                         audio=prepared.audio, text=prepared.text, segments=prepared.segments,
                         options=Options(**order.options),
                         client_key=order.client_key)
    paths = [prepared.video_path] + [a.path for a in prepared.audio]
    emit(Prepared(request.to_json(), hash_files(paths)))
    return request

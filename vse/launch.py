"""Launching jobs: one LaunchSpec in, the jobs started (or the reasons they were refused) out.

MAIN THREAD. Shared by submit, submit_selected, retry, retry_failed, draft-to-final and
re-attach, so every path records, checks and starts a job the same way (docs/architecture.md):
1. snapshot the strip into plans (vse/snapshot.py: split around no-lipsync ranges, handles),
2. check each plan against the provider (vse/checks.py) — a refusal records nothing,
3. write each job record (vse/records.py) BEFORE any network call,
4. hand each job to a worker as a frozen WorkOrder (worker/work.py) through the runtime.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from fractions import Fraction

from ..client.capabilities import max_seconds, supports
from ..client.config import MODELS, PROVIDERS
from ..client.errors import InputError, LipsyncError, humanize
from ..client.models import new_client_key
from ..preferences import get_prefs, provider_config
from ..worker.ranges import shift_overrides, shift_speaker
from ..worker import joins
from ..worker.runtime import RUNTIME
from ..worker.work import WorkOrder, run
from . import (apply, checks, compat, folders, gate, identity, money, options as panel_options, recordcheck, records,
               reuse, snapshot, timeline)

# Dev/test knob: first poll interval in seconds (providers default to 0.5-1 s, growing to 5-10 s).
POLL_INTERVAL_ENV = "LIPSYNC_POLL_INTERVAL"


@dataclasses.dataclass(frozen=True)
class LaunchSpec:
    """What to run for one source strip (names and plain values, never RNA objects).

    sound_strips  names of the dialogue strips to use; None = every audible overlapping one
    segment_overrides  per-segment options by sound strip name (speaker frames of the strip's
                  own frames; shifted by the handles here)
    handles       pre-roll/tail frames; None = the panel's setting
    only_range    (frame_start, frame_end): keep just that piece of a split strip
    group         the pieces' group id; None = a new one when the strip splits
    use_cache     reuse a finished identical job; None = the panel's setting
    """

    strip: str
    provider: str
    model: str
    options: dict
    sound_strips: tuple[str, ...] | None = None
    use_segments: bool = True
    segment_overrides: dict | None = None
    handles: int | None = None
    only_range: tuple[int, int] | None = None
    group: str | None = None
    use_cache: bool | None = None


@dataclasses.dataclass
class Launched:
    """The outcome of launches: job ids started, and (strip, reason) for each strip refused."""

    job_ids: list[str] = dataclasses.field(default_factory=list)
    refused: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    def add(self, other: "Launched") -> None:
        self.job_ids += other.job_ids
        self.refused += other.refused

    def refuse(self, strip: str, reason: str) -> "Launched":
        self.refused.append((strip, reason))
        return self

    def reasons(self) -> list[str]:
        """"strip: reason" lines, for a batch summary."""
        return [f"{strip}: {reason}" if strip else reason for strip, reason in self.refused]


def checked_options(settings, provider: str, model: str, sync_mode: str = "") -> dict:
    """The panel's options for provider x model, or a LipsyncError saying why they cannot be sent
    (unknown provider/model, no key, a bad base URL, an option the model does not take, no
    writable results folder). Nothing is recorded either way."""
    if provider not in PROVIDERS or model not in MODELS:
        raise InputError(f"Unknown provider {provider!r} or model {model!r}: use one of "
                         f"{', '.join(PROVIDERS)} / {', '.join(MODELS)}")
    if not gate.has_key(provider):
        raise InputError(gate.missing_key_message(provider))
    checks.check_connection(provider)
    options = panel_options.from_settings(settings, sync_mode)
    checks.check_options(provider, model, options)
    folders.check_results_dir()
    return options


def _plan(scene, spec: LaunchSpec, strip, handles: int) -> list:
    sounds = None
    if spec.sound_strips is not None:
        sed = scene.sequence_editor
        sounds = [s for s in (compat.strips_all(sed).get(n) for n in spec.sound_strips) if s is not None] or None
    planned = snapshot.plan_jobs(scene, strip, sounds, handles=handles, excluded=_excluded(scene),
                                 max_frames=_piece_frames(scene, spec.provider, handles))
    _check_long(scene, spec, strip, planned)
    if spec.only_range is not None:
        planned = [j for j in planned if (j.placement.frame_start, j.placement.frame_end) == tuple(spec.only_range)]
        if not planned:
            raise InputError(f'"{strip.name}" no longer has dialogue on frames {spec.only_range[0]}..'
                             f"{spec.only_range[1]} outside the no-lipsync ranges")
    for job in planned:
        pre = job.placement.handle_start
        checks.check_strip_job(job, spec.provider, spec.model, shift_speaker(spec.options, pre),
                               shift_overrides(spec.segment_overrides, pre))
    return planned


def _piece_frames(scene, provider: str, handles: int) -> int:
    """With "Split Long Strips" on: the most timeline frames a piece may cover so that, with its
    handles, its upload stays under the provider's limit; 0 = no split. Example: 300 s at 24 fps,
    handles 12 -> 7200 - 24 = 7176 frames."""
    if not scene.lipsync.split_long or provider not in PROVIDERS:
        return 0
    limit = Fraction(str(max_seconds(provider))) * snapshot.scene_rate(scene)
    return max(1, math.floor(limit) - 2 * handles)


def _check_long(scene, spec: LaunchSpec, strip, planned) -> None:
    """A strip over the provider's limit: say how it could be sent (the split is the artist's call:
    one strip becomes several billed jobs)."""
    if scene.lipsync.split_long or spec.provider not in PROVIDERS:
        return
    limit = max_seconds(spec.provider)
    longest = max((job.video.duration for job in planned), default=0.0)
    if longest > limit + 1e-6:
        pieces = math.ceil(longest / limit)
        raise InputError(f'"{strip.name}" lasts {longest:.1f} s and {spec.provider} takes at most {limit:g} s: turn '
                         f'on "Split Long Strips" (Lip Sync panel) to send it as {pieces} pieces with handles, '
                         "placed end to end", spec.provider)


def plan(scene, spec: LaunchSpec) -> tuple[list, str, str]:
    """(the StripJobs `spec` would send, "", strip name) or ([], why not, strip name): the
    snapshot and the checks, nothing recorded. A batch plans each strip once, prices those plans
    for the budget check and launches them (issue #16: the strips used to be read again for each)."""
    sed = scene.sequence_editor
    strip = compat.strips_all(sed).get(spec.strip) if sed else None
    if strip is None:
        return [], f'the strip "{spec.strip}" no longer exists', spec.strip
    handles = scene.lipsync.handles if spec.handles is None else spec.handles
    try:
        return _plan(scene, spec, strip, handles), "", strip.name
    except LipsyncError as exc:
        return [], humanize(exc), strip.name


def launch(scene, spec: LaunchSpec, planned: tuple[list, str, str] | None = None) -> Launched:
    """Record and start the jobs of one strip (one per included range); `planned` = what
    `plan(scene, spec)` returned, else it is planned now."""
    settings = scene.lipsync
    planned, why, name = plan(scene, spec) if planned is None else planned
    if why:
        return Launched().refuse(name, why)
    handles = settings.handles if spec.handles is None else spec.handles
    use_cache = settings.use_cache if spec.use_cache is None else spec.use_cache
    config = provider_config(spec.provider)
    # a provider without segments gets the dialogue strips mixed into one track instead
    # (parts at their offsets, silence elsewhere, exactly the video's length: worker/media.py)
    use_segments = spec.use_segments and supports(spec.provider, spec.model, "segments")[0]
    group = spec.group if spec.group is not None else (new_client_key()[:12] if len(planned) > 1 else "")
    started = Launched()
    for strip_job in planned:
        pre = strip_job.placement.handle_start   # speaker frames count frames of the upload
        options = shift_speaker(spec.options, pre)
        job = records.create(scene, strip_job, provider=spec.provider, model=spec.model, options=options,
                             use_segments=use_segments, segment_overrides=shift_overrides(spec.segment_overrides, pre),
                             group=group, handle_frames=handles, out_dir=folders.recorded_out_dir(),
                             estimate=money.estimate_usd(spec.provider, spec.model, strip_job, options))
        started.job_ids.append(job.job_id)
        start(job, strip_job, config, use_cache=use_cache)
    return started


def rerun_spec(job, *, model: str | None = None, whole: bool = False, use_cache: bool | None = None) -> LaunchSpec:
    """The inputs of record `job` as a new launch (new idempotency key): same source, sound
    strips, options and handles. A piece of a split job re-runs only that piece and joins its
    siblings; `whole` re-runs every piece of the strip as a new group instead. `model`
    replaces the record's (draft to final)."""
    pre = job.placement.handle_start   # records hold speaker frames of the upload
    piece = bool(job.group) and not whole
    return LaunchSpec(strip=job.source_strip, provider=job.provider, model=model or job.model,
                      options=shift_speaker(job.options, -pre), sound_strips=tuple(job.sound_strips) or None,
                      use_segments=job.use_segments, segment_overrides=shift_overrides(job.segment_overrides, -pre),
                      handles=job.handle_frames, only_range=job.frame_range if piece else None,
                      group=job.group if piece else None, use_cache=use_cache)


def rerun(scene, job, **kw) -> Launched:
    """Run record `job`'s inputs again as a new job (rerun_spec), refusing without a key or when
    the record does not pass its check (vse/recordcheck.py: it may come from someone else's .blend)."""
    if not recordcheck.usable(job):
        return Launched().refuse(job.name, job.message)
    if not gate.has_key(job.provider):
        return Launched().refuse("", gate.missing_key_message(job.provider))
    try:
        identity.follow_renames(scene, job)   # the source may have been renamed since
        spec = rerun_spec(job, **kw)
    except LipsyncError as exc:
        return Launched().refuse(job.name, humanize(exc))
    return launch(scene, spec)


def poll_interval() -> float | None:
    value = os.environ.get(POLL_INTERVAL_ENV, "").strip()
    return float(value) if value else None


def _overrides(job, strip_job) -> dict:
    """Per-segment options are saved by sound strip name (stable across re-runs); the worker
    wants the index of the part in strip_job.audio."""
    if strip_job is None:
        return {}
    by_name = job.segment_overrides
    return {i: by_name[p.strip_name] for i, p in enumerate(strip_job.audio) if p.strip_name in by_name}


# What one batch (a submit of many strips, a retry of all failed jobs) computes once; None outside
# a batch. The finished jobs cannot change during one: its own jobs have not started yet.
_batch: dict | None = None


@contextlib.contextmanager
def batch(scene):
    """Many launches in a row: the timeline is read once (vse/timeline.py `pinned`; launching
    never edits strips) and the finished jobs are listed once, not once per job."""
    global _batch
    if _batch is not None or scene is None:
        yield
        return
    with timeline.pinned(scene):
        _batch = {}
        try:
            yield
        finally:
            _batch = None


def _excluded(scene) -> list:
    """The scene's no-lipsync ranges, read once per batch (a walk over the guide strips and the
    markers: read for every strip it was a sixth of a 300-strip submit, tools/bench/scale.py)."""
    if _batch is None:
        return snapshot.excluded_ranges(scene)
    key = ("excluded", scene.name)
    if key not in _batch:
        _batch[key] = snapshot.excluded_ranges(scene)
    return _batch[key]


def _known_results() -> dict:
    if _batch is None:
        return reuse.known_results()
    if "known" not in _batch:
        _batch["known"] = reuse.known_results()
    return _batch["known"]


def start(job, strip_job, config, *, resume=None, use_cache: bool = True, uploaded: dict | None = None) -> None:
    """Hand the record's job to a worker. `resume` = client RemoteRef to poll instead of submit.
    `use_cache`: a finished job with the same fingerprint is reused instead (vse/reuse.py), a
    running one joined (worker/joins.py).
    `uploaded`: resend the record's saved request and uploads under its key (vse/retry.py)."""
    RUNTIME.set_limit(get_prefs().max_concurrent_jobs)
    apply.forget_shown(job.job_id)             # a retry starts over: read the record afresh
    job.attempts += 1
    job.status = "PENDING"
    job.progress = 0.0
    # the record's notes stay: what its inputs are (written at create) does not change on a start
    job.message = "Re-attached: polling the provider" if resume else job.notes.replace("\n", "; ")
    if resume is None:
        job.joined = ""                        # a retry of a job that had joined another runs again
    order = WorkOrder(
        job_id=job.job_id, strip_job=strip_job, provider=job.provider, model=job.model, options=job.options,
        client_key=job.client_key, config=config, work_dir=folders.work_dir(job.job_id),
        out_dir=folders.trusted_out_dir(job.out_dir), out_stem=job.out_stem, use_segments=job.use_segments,
        overrides=_overrides(job, strip_job), resume=resume, request_json=job.request, uploaded=uploaded or {},
        poll_interval=poll_interval(),
        known=_known_results() if resume is None and use_cache else {},
        join=resume is None and use_cache and not uploaded)
    if resume is not None and job.fingerprint:
        joins.claim(job.fingerprint, job.job_id)   # re-attached: a new identical submit joins it
    RUNTIME.submit(job.job_id, lambda cancel, emit: run(order, cancel, emit))

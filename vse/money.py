"""Money: the estimate of what a batch would send, the budget cap, the running total per .blend.

MAIN THREAD. Estimates come from client.pricing on the jobs that would really be sent
(snapshot.plan_jobs: split around no-lipsync ranges, handles added), so excluding a cutaway
lowers the figure the artist sees before paying. The actual cost is the provider's (Completed
event) on each record and on the first take of its job; a cache hit costs 0 (vse/reuse.py).
The running total sums every reported cost of the open file's records: it is saved with the
.blend because the records are.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import bpy

from ..client.capabilities import COST_ENDPOINT, supports
from ..client.errors import LipsyncError
from ..client.pricing import estimate
from ..preferences import get_prefs
from ..worker.fingerprint import fingerprint_if_hashed
from ..worker.ranges import shift_speaker
from . import compat, records, reuse, snapshot, speech, timeline


@dataclasses.dataclass(frozen=True)
class BatchEstimate:
    usd: float            # sum of the published prices
    unknown: int          # jobs without a published price
    seconds: float        # seconds of video that would be uploaded
    jobs: int             # jobs that would be sent (pieces count one each)
    refused: int          # strips that could not become a job (bad input)
    cached: int = 0       # jobs the result cache answers for free (cache.py), not in usd/seconds
    speech: str = ""      # how spoken lines were guessed (vse/speech.py estimate_note), "" without text


def estimate_usd(provider, model, strip_job, options) -> float:
    """The published price of one planned job; -1 when the provider's price is not published.
    A spoken line's length is unknown before the job: guessed from its words (vse/speech.py)."""
    audio = sum(p.duration for p in strip_job.audio) + speech.spoken_seconds_of(strip_job)
    try:
        est = estimate(provider, model, strip_job.video.duration, audio,
                       sync_mode=options.get("sync_mode"), number_results=options.get("number_results", 1))
    except Exception:  # noqa: BLE001 - an estimate must never block a submit
        return -1.0
    return -1.0 if est.usd is None else float(est.usd)


def estimate_strips(scene, strips, provider: str, model: str, options: dict,
                    handles: int | None = None) -> BatchEstimate:
    """The estimate of `strips` as they would be planned now (each strip read once)."""
    planned, refused, _serials = plan_strips(scene, strips, handles)
    return estimate_planned(scene, planned, refused, provider, model, options)


# -- the plan cache (issue #16) ---------------------------------------------------------------------
# After any edit the estimate is asked again, but an edit changes the plans of the strips it touches
# only: each strip's plans are kept with their key (snapshot.PlanReads: everything plan_jobs reads)
# and planned again when the key differs. The price is computed from the plans every time (cheap).
# MAIN THREAD; forgotten on file load (segments.forget).
_plans: dict[str, tuple[tuple, dict]] = {}    # scene name -> (scene key, {strip name: (key, serial, plans)})
_serials = itertools.count(1)                 # a new number for every plan made (segments' estimate key)


def plan_strips(scene, strips, handles: int | None = None) -> tuple[list, int, tuple]:
    """(a list of StripJobs for each strip that can be planned, how many cannot, one serial per
    strip that changes whenever its plans do): `snapshot.plan_jobs` of each strip, from the cache
    where nothing it reads has changed."""
    handles = scene.lipsync.handles if handles is None else handles
    planned, refused, serials = [], 0, []
    with timeline.pinned(scene):     # one read of the timeline for every strip (issue #16)
        excluded = snapshot.excluded_ranges(scene)
        reads = snapshot.PlanReads(scene, excluded, handles)
        held = _plans.get(scene.name)
        if held is None or held[0] != reads.scene_key:
            held = _plans[scene.name] = (reads.scene_key, {})
        cache = held[1]
        for strip in strips:
            key = reads.key(strip)
            entry = cache.get(strip.name)
            if key is None or entry is None or entry[0] != key:
                try:
                    jobs = snapshot.plan_jobs(scene, strip, handles=handles, excluded=excluded)
                except LipsyncError:
                    jobs = None
                jobs = tuple(jobs) if jobs is not None else None     # kept: nobody may change it
                entry = cache[strip.name] = (key, next(_serials), jobs)
            serials.append(entry[1])
            if entry[2] is None:
                refused += 1
            else:
                planned.append(entry[2])
        if len(cache) > len(strips):             # strips deleted or renamed since: not kept
            for name in [n for n in cache if reads.index is None or reads.index.kind(n) is None]:
                del cache[name]
    return planned, refused, tuple(serials)


def forget(scene=None) -> None:
    """Drop the plans kept for `scene` (the panel's refresh button), or for every scene (file load)."""
    if scene is None:
        _plans.clear()
    else:
        _plans.pop(scene.name, None)


def estimate_planned(scene, planned, refused: int, provider: str, model: str, options: dict) -> BatchEstimate:
    """The estimate of jobs already planned (`planned`: one list of StripJobs per strip), so a
    submit prices the very plans it is about to send instead of reading the strips again."""
    usd = seconds = 0.0
    unknown = count = cached = 0
    # a job whose files were hashed before and whose fingerprint matches a finished job is free
    known = reuse.known_results() if scene.lipsync.use_cache else {}
    segments = scene.lipsync.use_segments and supports(provider, model, "segments")[0]
    for jobs in planned:
        for job in jobs:
            count += 1
            if known and fingerprint_if_hashed(
                    job, provider=provider, model=model, use_segments=segments, overrides={},
                    options=shift_speaker(options, job.placement.handle_start)) in known:
                cached += 1
                continue
            seconds += job.video.duration
            price = estimate_usd(provider, model, job, options)
            if price < 0:
                unknown += 1
            else:
                usd += price
    return BatchEstimate(round(usd, 4), unknown, seconds, count, refused, cached, speech.estimate_note(planned))


def describe(est: BatchEstimate, strips: int) -> str:
    """'2 strip(s), 3 job(s), 2.4 s: about $0.12' for the panel."""
    if not strips:
        return ""
    jobs = f", {est.jobs} job(s)" if est.jobs != strips else ""
    head = f"{strips} strip(s){jobs}, {est.seconds:.1f} s"
    free = f", {est.cached} reused free" if est.cached else ""
    if est.unknown and not est.usd:
        return f"{head}: no published price{free}{est.speech}"
    extra = f" (+{est.unknown} without a price)" if est.unknown else ""
    return f"{head}: about ${est.usd:.2f}{extra}{free}{est.speech}"


def budget_cap() -> float:
    return float(get_prefs().budget_cap_usd)


def over_cap(est: BatchEstimate) -> bool:
    cap = budget_cap()
    return cap > 0 and est.usd > cap


def spent_total() -> tuple[float, int, int, float, int]:
    """Over the open file: (USD the providers reported, paid jobs, jobs reused at no cost,
    estimated USD of finished jobs whose provider reports no cost, how many of those)."""
    usd, paid, reused, estimated, unreported = 0.0, 0, 0, 0.0, 0
    for _scene, job in records.everywhere():
        # a record may come from someone else's .blend: a NaN or infinite amount is not added
        cost = job.cost if math.isfinite(job.cost) else 0.0
        if job.reused_from:
            reused += 1
        elif cost > 0:
            usd += cost
            paid += 1
        elif job.status == "COMPLETED" and job.cost < 0:
            paid += 1
            unreported += 1
            estimated += job.estimate if math.isfinite(job.estimate) and job.estimate > 0 else 0.0
    return usd, paid, reused, estimated, unreported


def refresh_spent() -> None:
    """'Spent in this file: $0.13 (3 paid job(s), 1 reused free) + about $0.07 not reported'."""
    usd, paid, reused, estimated, unreported = spent_total()
    text = f"Spent in this file: ${usd:.2f} ({paid} paid job(s)"
    text += f", {reused} reused free)" if reused else ")"
    if unreported:
        text += f" + about ${estimated:.2f} not reported"
    for scene in bpy.data.scenes:
        if scene.lipsync.spent_text != text:
            scene.lipsync.spent_text = text


def selected_movies(scene) -> list:
    """The selected movie strips that are not takes (else the active one), in timeline order."""
    sed = scene.sequence_editor
    index = timeline.index(scene)
    if index is None:
        return []
    movies = [s for s in index.strips(index.selected("MOVIE")) if not (s.lipsync.is_take or s.lipsync.is_fill)]
    if not movies and sed.active_strip is not None and compat.strip_type(sed.active_strip) == "MOVIE" \
            and not (sed.active_strip.lipsync.is_take or sed.active_strip.lipsync.is_fill):
        movies = [sed.active_strip]
    return movies


def has_cost_endpoint(provider: str) -> bool:
    """The provider prices a job itself (sync.so `POST /v2/analyze/cost`, docs/providers.md §1.2)."""
    return provider in COST_ENDPOINT

"""Money: the estimate of what a batch would send, the budget cap, the running total per .blend.

MAIN THREAD. Estimates come from client.pricing on the jobs that would really be sent
(ranges.plan_jobs: split around no-lipsync ranges, handles added), so excluding a cutaway
lowers the figure the artist sees before paying. The actual cost is the provider's (Completed
event) on each record and on the first take of its job; a cache hit costs 0 (cache.py).
The running total sums every reported cost of the open file's records: it is saved with the
.blend because the records are.
"""

from __future__ import annotations

import dataclasses

import bpy

from .. import compat


@dataclasses.dataclass(frozen=True)
class BatchEstimate:
    usd: float            # sum of the published prices
    unknown: int          # jobs without a published price
    seconds: float        # seconds of video that would be uploaded
    jobs: int             # jobs that would be sent (pieces count one each)
    refused: int          # strips that could not become a job (bad input)


def estimate_strips(scene, strips, provider: str, model: str, options: dict, handles: int | None = None) -> BatchEstimate:
    from ..client.errors import LipsyncError
    from . import jobs, ranges

    usd = seconds = 0.0
    unknown = count = refused = 0
    excluded = ranges.excluded_ranges(scene)
    for strip in strips:
        try:
            planned = ranges.plan_jobs(scene, strip, handles=handles, excluded=excluded)
        except LipsyncError:
            refused += 1
            continue
        for job in planned:
            count += 1
            seconds += job.video.duration
            price = jobs.estimate_usd(provider, model, job, options)
            if price < 0:
                unknown += 1
            else:
                usd += price
    return BatchEstimate(round(usd, 4), unknown, seconds, count, refused)


def describe(est: BatchEstimate, strips: int) -> str:
    """'2 strip(s), 3 job(s), 2.4 s: about $0.12' for the panel."""
    if not strips:
        return ""
    jobs = f", {est.jobs} job(s)" if est.jobs != strips else ""
    head = f"{strips} strip(s){jobs}, {est.seconds:.1f} s"
    if est.unknown and not est.usd:
        return f"{head}: no published price"
    extra = f" (+{est.unknown} without a price)" if est.unknown else ""
    return f"{head}: about ${est.usd:.2f}{extra}"


def budget_cap() -> float:
    from ..preferences import get_prefs
    return float(get_prefs().budget_cap_usd)


def over_cap(est: BatchEstimate) -> bool:
    cap = budget_cap()
    return cap > 0 and est.usd > cap


def spent_total() -> tuple[float, int, int, float, int]:
    """Over the open file: (USD the providers reported, paid jobs, jobs reused at no cost,
    estimated USD of finished jobs whose provider reports no cost, how many of those)."""
    usd, paid, reused, estimated, unreported = 0.0, 0, 0, 0.0, 0
    for scene in bpy.data.scenes:
        for rec in scene.lipsync.jobs:
            if rec.reused_from:
                reused += 1
            elif rec.cost > 0:
                usd += rec.cost
                paid += 1
            elif rec.status == "COMPLETED" and rec.cost < 0:
                paid += 1
                unreported += 1
                estimated += max(0.0, rec.estimate)
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
    sed = scene.sequence_editor
    if sed is None:
        return []
    movies = [s for s in compat.strips_all(sed)
              if s.select and compat.strip_type(s) == "MOVIE" and not s.lipsync.is_take]
    if not movies and sed.active_strip is not None and compat.strip_type(sed.active_strip) == "MOVIE" \
            and not sed.active_strip.lipsync.is_take:
        movies = [sed.active_strip]
    return movies

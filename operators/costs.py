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
import os

import bpy

from .. import compat


@dataclasses.dataclass(frozen=True)
class BatchEstimate:
    usd: float            # sum of the published prices
    unknown: int          # jobs without a published price
    seconds: float        # seconds of video that would be uploaded
    jobs: int             # jobs that would be sent (pieces count one each)
    refused: int          # strips that could not become a job (bad input)
    cached: int = 0       # jobs the result cache answers for free (cache.py), not in usd/seconds


def estimate_strips(scene, strips, provider: str, model: str, options: dict, handles: int | None = None) -> BatchEstimate:
    from ..client.capabilities import supports
    from ..client.errors import LipsyncError
    from . import cache, jobs, ranges

    usd = seconds = 0.0
    unknown = count = refused = cached = 0
    excluded = ranges.excluded_ranges(scene)
    # a job whose files were hashed before and whose fingerprint matches a finished job is free
    known = cache.known_results(bpy.data.scenes) if scene.lipsync.use_cache else {}
    segments = scene.lipsync.use_segments and supports(provider, model, "segments")[0]
    for strip in strips:
        try:
            planned = ranges.plan_jobs(scene, strip, handles=handles, excluded=excluded)
        except LipsyncError:
            refused += 1
            continue
        for job in planned:
            count += 1
            if known and cache.fingerprint_if_hashed(
                    job, provider=provider, model=model, use_segments=segments, overrides={},
                    options=ranges.shift_speaker(options, job.placement.handle_start)) in known:
                cached += 1
                continue
            seconds += job.video.duration
            price = jobs.estimate_usd(provider, model, job, options)
            if price < 0:
                unknown += 1
            else:
                usd += price
    return BatchEstimate(round(usd, 4), unknown, seconds, count, refused, cached)


def describe(est: BatchEstimate, strips: int) -> str:
    """'2 strip(s), 3 job(s), 2.4 s: about $0.12' for the panel."""
    if not strips:
        return ""
    jobs = f", {est.jobs} job(s)" if est.jobs != strips else ""
    head = f"{strips} strip(s){jobs}, {est.seconds:.1f} s"
    free = f", {est.cached} reused free" if est.cached else ""
    if est.unknown and not est.usd:
        return f"{head}: no published price{free}"
    extra = f" (+{est.unknown} without a price)" if est.unknown else ""
    return f"{head}: about ${est.usd:.2f}{extra}{free}"


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


# -- the provider's own estimate (sync.so: POST /v2/analyze/cost) ------------------------------
def has_cost_endpoint(provider: str) -> bool:
    from ..client.capabilities import COST_ENDPOINT   # no provider module (httpx) in a poll
    return provider in COST_ENDPOINT


def _provider_estimate_work(planned, provider, model, options, config, work_root, result) -> None:
    """WORKER THREAD, no bpy: cut each job's media, ask the provider for its price, sum.
    Uploads go through the client's upload cache, so the real submit does not send them again."""
    import shutil

    from ..client.errors import humanize
    from ..client.jobs import remote_estimate
    from ..client.models import JobRequest, Options, new_client_key
    from .media import prepare_media
    total = 0.0
    try:
        for index, job in enumerate(planned):
            work = f"{work_root}_{index}"
            try:
                prepared = prepare_media(job, work, use_segments=True)
                request = JobRequest(provider=provider, model=model, video=prepared.video_path,
                                     audio=prepared.audio, segments=prepared.segments,
                                     options=Options(**options), client_key=new_client_key())
                usd = remote_estimate(request, config)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if usd is None:
                result["error"] = "the provider has no cost endpoint"
                return
            total += float(usd)
        result["usd"] = total
    except Exception as exc:  # noqa: BLE001 - shown in the panel as one sentence
        result["error"] = humanize(exc)


class LIPSYNC_OT_provider_estimate(bpy.types.Operator):
    """Ask the provider for its own price of the selected strips (sync.so; uploads the media, submits nothing)"""

    bl_idname = "lipsync.provider_estimate"
    bl_label = "Ask Provider for Price"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        from .submit import poll_network
        if not poll_network(cls, context):
            return False
        scene = compat.sequencer_scene(context)
        if not has_cost_endpoint(scene.lipsync.provider):
            cls.poll_message_set("Only sync.so has a cost endpoint; the estimate above uses the published prices")
            return False
        return True

    def _start(self, context) -> bool:
        import tempfile
        import threading
        import uuid

        from ..client.errors import LipsyncError, humanize
        from ..preferences import provider_config
        from . import jobs, ranges
        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        movies = selected_movies(scene)
        if not movies:
            self.report({"ERROR"}, "Select one or more movie strips")
            return False
        options = jobs.options_from_settings(settings, settings.provider, settings.model)
        try:
            planned = [j for strip in movies for j in ranges.plan_jobs(scene, strip)]
        except LipsyncError as exc:
            self.report({"ERROR"}, humanize(exc))
            return False
        self._scene_name, self._count = scene.name, len(movies)
        self._result = {}
        root = os.path.join(tempfile.gettempdir(), "vse_lipsync_work", f"estimate_{uuid.uuid4().hex[:8]}")
        self._thread = threading.Thread(
            target=_provider_estimate_work, name="lipsync-estimate", daemon=True,
            args=(planned, settings.provider, settings.model, options, provider_config(settings.provider), root,
                  self._result))
        self._thread.start()
        settings.provider_estimate_text = "Asking the provider..."
        return True

    def _done(self, context):
        scene = bpy.data.scenes.get(self._scene_name)
        if "usd" in self._result:
            text = f"Provider's price for {self._count} strip(s): ${self._result['usd']:.2f}"
            self.report({"INFO"}, text)
        else:
            text = f"No provider price: {self._result.get('error', 'stopped')}"
            self.report({"WARNING"}, text)
        if scene is not None:
            scene.lipsync.provider_estimate_text = text
        return {"FINISHED"} if "usd" in self._result else {"CANCELLED"}

    def execute(self, context):
        if not self._start(context):
            return {"CANCELLED"}
        self._thread.join()
        return self._done(context)

    def invoke(self, context, event):
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        self._timer = context.window_manager.event_timer_add(0.25, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER" or self._thread.is_alive():
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._done(context)


classes = (LIPSYNC_OT_provider_estimate,)

"""`lipsync.submit` (active strip + panel segments) and `lipsync.submit_selected` (batch).

Both snapshot RNA on the main thread, write job records, hand the jobs to the runtime (bounded
by the preference `max_concurrent_jobs`) and then wait through FollowJobsMixin: modal in the UI,
blocking in background mode. Networking only with online access on (operators/online.py) and a key.
"""

from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, StringProperty

from .. import compat
from . import jobs, results
from .follow import FollowJobsMixin
from .online import poll_online


def missing_key_message(provider: str) -> str:
    from ..client.config import ENV_KEYS, LABELS
    return (f"No API key for {LABELS.get(provider, provider)}: set the environment variable "
            f"{ENV_KEYS[provider]} or type the key in the add-on preferences")


def has_key(provider: str) -> bool:
    from ..preferences import key_source
    return key_source(provider) != "missing"


def poll_network(cls, context, provider: str | None = None) -> bool:
    """poll() for every operator that talks to a provider: online access, then the key."""
    if not poll_online(cls):
        return False
    scene = compat.sequencer_scene(context)
    if scene is None:
        return False
    provider = provider or scene.lipsync.provider
    if not has_key(provider):
        cls.poll_message_set(missing_key_message(provider))
        return False
    return True


def launch(op, scene, strip, **kw) -> str | None:
    """One strip -> its first job id (None when refused). Scripts and tools use this; operators
    use launch_all, which also returns the pieces of a strip split around no-lipsync ranges."""
    started = launch_all(op, scene, strip, **kw)
    return started[0] if started else None


def launch_all(op, scene, strip, *, provider, model, options, sound_strips=None, use_segments=True,
               segment_overrides=None, batch=False, handles=None, only_range=None, group=None,
               use_cache=None) -> list[str]:
    """Snapshot, record, start the jobs of one strip (ranges.plan_jobs: one per included range,
    with handles). Reports and returns [] when the input is refused. `only_range` (frame_start,
    frame_end) keeps just that piece (retrying one failed piece never re-runs its siblings)."""
    from ..client.errors import InputError, LipsyncError, humanize
    from ..client.models import new_client_key
    from ..preferences import provider_config
    from . import ranges

    handles = scene.lipsync.handles if handles is None else handles
    use_cache = scene.lipsync.use_cache if use_cache is None else use_cache
    try:
        planned = ranges.plan_jobs(scene, strip, sound_strips, handles=handles)
        if only_range is not None:
            planned = [j for j in planned if (j.placement.frame_start, j.placement.frame_end) == tuple(only_range)]
            if not planned:
                raise InputError(f'"{strip.name}" no longer has dialogue on frames {only_range[0]}..{only_range[1]} '
                                 "outside the no-lipsync ranges")
        for job in planned:
            pre = job.placement.handle_start
            check_strip_job(job, provider, model, ranges.shift_speaker(options, pre),
                            ranges.shift_overrides(segment_overrides, pre))
    except LipsyncError as exc:
        if batch:   # a batch names it in its one summary
            op._refused.append(f"{strip.name}: {humanize(exc)}")
        else:
            op.report({"ERROR"}, humanize(exc))
        return []
    config = provider_config(provider)
    if use_segments:
        from ..client.capabilities import supports
        # a provider without segments gets the dialogue strips mixed into one track instead
        # (parts at their offsets, silence elsewhere, exactly the video's length: media.py)
        use_segments = supports(provider, model, "segments")[0]
    if group is None:
        group = new_client_key()[:12] if len(planned) > 1 else ""
    started = []
    for strip_job in planned:
        pre = strip_job.placement.handle_start   # speaker frames count frames of the upload
        rec = jobs.create_record(scene, strip_job, provider=provider, model=model,
                                 options=ranges.shift_speaker(options, pre),
                                 sound_strips=sound_strips, use_segments=use_segments,
                                 segment_overrides=ranges.shift_overrides(segment_overrides, pre),
                                 group=group, handle_frames=handles)
        started.append(rec.job_id)
        jobs.start(rec, strip_job, config, use_cache=use_cache)
    return started


def over_budget(op, scene, movies, provider, model, options, confirmed=False) -> bool:
    """True (and says why) when the estimate of `movies` exceeds the preferences' budget cap and
    the artist has not confirmed it. In the UI the operator asks first (invoke_confirm); scripts
    pass confirm_budget=True."""
    from . import costs
    est = costs.estimate_strips(scene, movies, provider, model, options)
    if confirmed or not costs.over_cap(est):
        return False
    op.report({"ERROR"}, f"The estimate ${est.usd:.2f} for {len(movies)} strip(s) exceeds the budget cap "
                         f"${costs.budget_cap():.2f} (add-on preferences); confirm to submit anyway")
    return True


class BudgetConfirmMixin:
    """Ask before a batch over the budget cap (issue #8). invoke(): over the cap -> a confirm
    popup; its OK runs execute(), which then follows the jobs modally like invoke would."""

    def budget_targets(self, context):
        raise NotImplementedError

    def invoke(self, context, event):
        from . import costs
        if not self.confirm_budget and not bpy.app.background and context.window is not None:
            try:
                scene, movies, provider, model = self.budget_targets(context)
                options = jobs.options_from_settings(scene.lipsync, provider, model, getattr(self, "sync_mode", ""))
                est = costs.estimate_strips(scene, movies, provider, model, options)
            except Exception:  # noqa: BLE001 - start_jobs reports the real problem
                est = None
            if est is not None and costs.over_cap(est):
                self.confirm_budget = True
                self.ui_confirmed = True
                message = (f"About ${est.usd:.2f} for {est.jobs} job(s), over your budget cap "
                           f"${costs.budget_cap():.2f}")
                try:
                    return context.window_manager.invoke_confirm(self, event, title="Over Budget",
                                                                 message=message, confirm_text="Submit Anyway")
                except TypeError:   # older signature
                    return context.window_manager.invoke_confirm(self, event)
        return super().invoke(context, event)

    def execute(self, context):
        modal = self.ui_confirmed and not bpy.app.background and context.window is not None
        return self._begin(context, modal=modal)


def _checked_options(op, settings, provider, model, sync_mode=""):
    from ..client.errors import LipsyncError, humanize
    if not has_key(provider):
        op.report({"ERROR"}, missing_key_message(provider))
        return None
    try:
        check_connection(provider)
        options = jobs.options_from_settings(settings, provider, model, sync_mode)
        jobs.check_options(provider, model, options)
        results.check_results_dir()
    except LipsyncError as exc:
        op.report({"ERROR"}, humanize(exc))
        return None
    return options


def check_connection(provider: str) -> None:
    """The base URL must be https, or http to this computer (the client's own rule), checked
    before anything is recorded rather than on the first request in a worker."""
    from ..preferences import provider_config
    config = provider_config(provider)
    if config.base_url:
        from ..client.transport import check_url
        check_url(config.base_url, "base URL", provider)


def check_strip_job(strip_job, provider, model, options, segment_overrides=None) -> None:
    """What can only be checked against the strip: the provider's length limit, the speaker
    point against the picture and the uploaded frames. Raises the client's InputError."""
    from ..client.capabilities import check_durations
    from ..client.config import LABELS
    from ..client.errors import InputError

    video = strip_job.video
    longest_part = max((p.duration for p in strip_job.audio), default=None)
    check_durations(provider, model, video.duration, longest_part)
    name = strip_job.placement.source_strip
    speakers = [options.get("active_speaker") or {}]
    speakers += [(o or {}).get("active_speaker") or {} for o in (segment_overrides or {}).values()]
    for speaker in speakers:
        if speaker.get("frame") is not None and speaker["frame"] >= video.frames:
            raise InputError(f'speaker frame {speaker["frame"]} is after the end: "{name}" uploads '
                             f"{video.frames} frames (0..{video.frames - 1})", provider)
        point = speaker.get("point")
        if point is not None and video.width and video.height and not (
                0 <= point[0] < video.width and 0 <= point[1] < video.height):
            raise InputError(f"speaker point ({point[0]}, {point[1]}) is outside the {video.width}x{video.height} "
                             f'picture of "{name}" ({model} on {LABELS[provider]})', provider)


_CONFIRM_DOC = "Submit even when the estimate exceeds the budget cap in the add-on preferences"


class LIPSYNC_OT_submit(BudgetConfirmMixin, FollowJobsMixin, bpy.types.Operator):
    """Lip-sync the active movie strip to the dialogue strips under it (the panel's segments)"""

    bl_idname = "lipsync.submit"
    bl_label = "Lip Sync Active Strip"
    bl_options = {"REGISTER"}  # no UNDO: a paid network job cannot be undone (Flamenco does the same)

    confirm_budget: BoolProperty(name="Confirm Over Budget", description=_CONFIRM_DOC, options={"SKIP_SAVE"})
    ui_confirmed: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    def budget_targets(self, context):
        from . import takes
        scene = compat.sequencer_scene(context)
        strip = takes.source_of(scene, compat.active_strip(context))
        return scene, [strip] if strip is not None else [], scene.lipsync.provider, scene.lipsync.model

    @classmethod
    def poll(cls, context):
        if not poll_network(cls, context):
            return False
        if compat.active_strip(context) is None:
            cls.poll_message_set("Make a movie strip active first")
            return False
        return True   # another kind of strip: execute() says why it cannot be lip-synced

    def start_jobs(self, context):
        from ..client.errors import LipsyncError, humanize
        from . import segments, takes
        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        strip = takes.source_of(scene, compat.active_strip(context))   # a take active: re-run its source
        if strip is None:
            self.report({"ERROR"}, "Make a movie strip active first")
            return []
        sounds, overrides = None, None
        if settings.segments_strip == strip.name and len(settings.segments):
            # the panel's rows for this strip; otherwise every overlapping sound strip (rows are
            # not rebuilt here: a refused submit leaves the scene exactly as it was)
            try:
                sounds, overrides = segments.chosen_sounds(scene, strip)
            except LipsyncError as exc:
                self.report({"ERROR"}, humanize(exc))
                return []
            if not sounds:
                self.report({"ERROR"}, f'Every dialogue strip under "{strip.name}" is switched off')
                return []
        options = _checked_options(self, settings, settings.provider, settings.model)
        if options is None or over_budget(self, scene, [strip], settings.provider, settings.model, options,
                                          getattr(self, "confirm_budget", False)):
            return []
        return launch_all(self, scene, strip, provider=settings.provider, model=settings.model, options=options,
                          sound_strips=sounds, use_segments=settings.use_segments, segment_overrides=overrides)


class LIPSYNC_OT_submit_selected(BudgetConfirmMixin, FollowJobsMixin, bpy.types.Operator):
    """Lip-sync every selected movie strip to the sound strips overlapping it (one job each)"""

    bl_idname = "lipsync.submit_selected"
    bl_label = "Lip Sync Selected Strips"
    bl_options = {"REGISTER"}

    provider: StringProperty(name="Provider", description="Empty = the panel's provider")
    model: StringProperty(name="Model", description="Empty = the panel's model")
    sync_mode: StringProperty(name="Sync Mode", description="Empty = the panel's sync mode")
    confirm_budget: BoolProperty(name="Confirm Over Budget", description=_CONFIRM_DOC, options={"SKIP_SAVE"})
    ui_confirmed: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    def budget_targets(self, context):
        scene = compat.sequencer_scene(context)
        movies = [s for s in compat.selected_strips(context)
                  if compat.strip_type(s) == "MOVIE" and not s.lipsync.is_take]
        return scene, movies, self.provider or scene.lipsync.provider, self.model or scene.lipsync.model

    @classmethod
    def poll(cls, context):
        # the key is checked in execute(): `provider` may name another provider than the panel's
        if not poll_online(cls) or compat.sequencer_scene(context) is None:
            return False
        if not any(compat.strip_type(s) == "MOVIE" for s in compat.selected_strips(context)):
            cls.poll_message_set("Select one or more movie strips")
            return False
        return True

    def start_jobs(self, context):
        from ..client.config import MODELS, PROVIDERS
        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        provider = self.provider or settings.provider
        model = self.model or settings.model
        if provider not in PROVIDERS or model not in MODELS:
            self.report({"ERROR"}, f"Unknown provider {provider!r} or model {model!r}: use one of "
                                   f"{', '.join(PROVIDERS)} / {', '.join(MODELS)}")
            return []
        options = _checked_options(self, settings, provider, model, self.sync_mode)
        if options is None:
            return []
        movies = [s for s in compat.selected_strips(context)
                  if compat.strip_type(s) == "MOVIE" and not s.lipsync.is_take]
        movies.sort(key=lambda s: (compat.visible_range(s)[0], s.channel))
        if not movies:
            self.report({"ERROR"}, "Select one or more movie strips (takes are skipped)")
            return []
        if over_budget(self, scene, movies, provider, model, options, getattr(self, "confirm_budget", False)):
            return []
        started, refused = [], 0
        for strip in movies:
            ids = launch_all(self, scene, strip, provider=provider, model=model, options=options,
                             use_segments=settings.use_segments, batch=True)
            if ids:
                started.extend(ids)
            else:
                refused += 1
        if refused and not started:
            self.report({"ERROR"}, f"None of the {len(movies)} selected strips could be submitted: "
                                   + "; ".join(self._refused[:3]))
        return started


def job_options(rec) -> dict:
    return json.loads(rec.options_json or "{}")


classes = (LIPSYNC_OT_submit, LIPSYNC_OT_submit_selected)

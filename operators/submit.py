"""`lipsync.submit` (active strip + panel segments) and `lipsync.submit_selected` (batch).

Both snapshot RNA on the main thread, write job records, hand the jobs to the runtime (bounded
by the preference `max_concurrent_jobs`) and then wait through FollowJobsMixin: modal in the UI,
blocking in background mode. Networking only with online access on (operators/online.py) and a key.
"""

from __future__ import annotations

import json

import bpy
from bpy.props import StringProperty

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


def launch(op, scene, strip, *, provider, model, options, sound_strips=None, use_segments=True,
           segment_overrides=None, batch=False) -> str | None:
    """Snapshot, record, start one job. Reports and returns None when the input is refused."""
    from ..client.errors import LipsyncError, humanize
    from ..preferences import provider_config
    from .strips import snapshot_job

    try:
        strip_job = snapshot_job(scene, strip, sound_strips)
        check_strip_job(strip_job, provider, model, options, segment_overrides)
    except LipsyncError as exc:
        if batch:   # a batch names it in its one summary
            op._refused.append(f"{strip.name}: {humanize(exc)}")
        else:
            op.report({"ERROR"}, humanize(exc))
        return None
    config = provider_config(provider)
    if use_segments:
        from ..client.capabilities import supports
        # a provider without segments gets the dialogue strips mixed into one track instead
        # (parts at their offsets, silence elsewhere, exactly the video's length: media.py)
        use_segments = supports(provider, model, "segments")[0]
    rec = jobs.create_record(scene, strip_job, provider=provider, model=model, options=options,
                             sound_strips=sound_strips, use_segments=use_segments,
                             segment_overrides=segment_overrides)
    jobs.start(rec, strip_job, config)
    return rec.job_id


def over_budget(op, scene, movies, provider, model, options) -> bool:
    """Refuse (and say why) when the estimate of `movies` exceeds the preferences' budget cap."""
    from ..client.errors import LipsyncError
    from ..preferences import get_prefs
    from .strips import snapshot_job
    cap = get_prefs().budget_cap_usd
    if cap <= 0:
        return False
    total = 0.0
    for strip in movies:
        try:
            usd = jobs.estimate_usd(provider, model, snapshot_job(scene, strip), options)
        except LipsyncError:
            continue
        total += max(0.0, usd)
    if total <= cap:
        return False
    op.report({"ERROR"}, f"The estimate ${total:.2f} for {len(movies)} strip(s) exceeds the budget cap "
                         f"${cap:.2f} (add-on preferences)")
    return True


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


class LIPSYNC_OT_submit(FollowJobsMixin, bpy.types.Operator):
    """Lip-sync the active movie strip to the dialogue strips under it (the panel's segments)"""

    bl_idname = "lipsync.submit"
    bl_label = "Lip Sync Active Strip"
    bl_options = {"REGISTER"}  # no UNDO: a paid network job cannot be undone (Flamenco does the same)

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
        if options is None or over_budget(self, scene, [strip], settings.provider, settings.model, options):
            return []
        job_id = launch(self, scene, strip, provider=settings.provider, model=settings.model, options=options,
                        sound_strips=sounds, use_segments=settings.use_segments, segment_overrides=overrides)
        return [job_id] if job_id else []


class LIPSYNC_OT_submit_selected(FollowJobsMixin, bpy.types.Operator):
    """Lip-sync every selected movie strip to the sound strips overlapping it (one job each)"""

    bl_idname = "lipsync.submit_selected"
    bl_label = "Lip Sync Selected Strips"
    bl_options = {"REGISTER"}

    provider: StringProperty(name="Provider", description="Empty = the panel's provider")
    model: StringProperty(name="Model", description="Empty = the panel's model")
    sync_mode: StringProperty(name="Sync Mode", description="Empty = the panel's sync mode")

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
        if over_budget(self, scene, movies, provider, model, options):
            return []
        started, refused = [], 0
        for strip in movies:
            job_id = launch(self, scene, strip, provider=provider, model=model, options=options,
                            use_segments=settings.use_segments, batch=True)
            if job_id:
                started.append(job_id)
            else:
                refused += 1
        if refused and not started:
            self.report({"ERROR"}, f"None of the {len(movies)} selected strips could be submitted: "
                                   + "; ".join(self._refused[:3]))
        return started


def job_options(rec) -> dict:
    return json.loads(rec.options_json or "{}")


classes = (LIPSYNC_OT_submit, LIPSYNC_OT_submit_selected)

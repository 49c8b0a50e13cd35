"""`lipsync.submit` (active strip + panel segments) and `lipsync.submit_selected` (batch).

Both hand vse/launch.py one LaunchSpec per strip (snapshot, checks, records, workers) and then
wait through FollowJobsMixin: modal in the UI, blocking in background mode. Networking only with
online access on and a key (vse/gate.py); over the budget cap only after a confirmation.
"""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, StringProperty

from ..client.errors import LipsyncError, humanize
from ..vse import compat, gate, segments
from ..vse.options import from_settings
from .follow import FollowJobsMixin

_CONFIRM_DOC = "Submit even when the estimate exceeds the budget cap in the add-on preferences"


def over_budget(op, scene, plans, provider, model, options, confirmed=False) -> bool:
    """True (and says why) when the estimate of `plans` (launch.plan of each strip: the jobs about
    to be sent, priced without reading the strips again) exceeds the preferences' budget cap and
    the artist has not confirmed it. In the UI the operator asks first (invoke_confirm); scripts
    pass confirm_budget=True."""
    from ..vse import money  # late: job code loads at first use (docs/architecture.md "Start-up")

    if confirmed or money.budget_cap() <= 0:
        return False
    est = money.estimate_planned(scene, [jobs for jobs, why, _name in plans if not why],
                                 sum(1 for _jobs, why, _name in plans if why), provider, model, options)
    if not money.over_cap(est):
        return False
    op.report({"ERROR"}, f"The estimate ${est.usd:.2f} for {len(plans)} strip(s) exceeds the budget cap "
                         f"${money.budget_cap():.2f} (add-on preferences); confirm to submit anyway")
    return True


class BudgetConfirmMixin:
    """Ask before a batch over the budget cap. invoke(): over the cap -> a confirm popup; its OK
    runs execute(), which then follows the jobs modally like invoke would."""

    def budget_targets(self, context):
        raise NotImplementedError

    def invoke(self, context, event):
        from ..vse import money  # late: job code loads at first use (docs/architecture.md "Start-up")

        if not self.confirm_budget and not bpy.app.background and context.window is not None \
                and money.budget_cap() > 0:
            try:
                scene, movies, provider, model = self.budget_targets(context)
                options = from_settings(scene.lipsync, getattr(self, "sync_mode", ""))
                est = money.estimate_strips(scene, movies, provider, model, options)
            except Exception:  # noqa: BLE001 - start_jobs reports the real problem
                est = None
            if est is not None and money.over_cap(est):
                self.confirm_budget = True
                self.ui_confirmed = True
                message = (f"About ${est.usd:.2f} for {est.jobs} job(s), over your budget cap "
                           f"${money.budget_cap():.2f}")
                try:
                    return context.window_manager.invoke_confirm(self, event, title="Over Budget",
                                                                 message=message, confirm_text="Submit Anyway")
                except TypeError:   # older signature
                    return context.window_manager.invoke_confirm(self, event)
        return super().invoke(context, event)

    def execute(self, context):
        modal = self.ui_confirmed and not bpy.app.background and context.window is not None
        return self._begin(context, modal=modal)


def _options_or_report(op, settings, provider, model, sync_mode=""):
    from ..vse import launch  # late: job code loads at first use (docs/architecture.md "Start-up")

    try:
        return launch.checked_options(settings, provider, model, sync_mode)
    except LipsyncError as exc:
        op.report({"ERROR"}, humanize(exc))
        return None


class LIPSYNC_OT_submit(BudgetConfirmMixin, FollowJobsMixin, bpy.types.Operator):
    """Lip-sync the active movie strip to the dialogue strips under it (the panel's segments)"""

    bl_idname = "lipsync.submit"
    bl_label = "Lip Sync Active Strip"
    bl_options = {"REGISTER"}  # no UNDO: a paid network job cannot be undone (Flamenco does the same)

    confirm_budget: BoolProperty(name="Confirm Over Budget", description=_CONFIRM_DOC, options={"SKIP_SAVE"})
    ui_confirmed: BoolProperty(options={"HIDDEN", "SKIP_SAVE"})

    def budget_targets(self, context):
        from ..vse import takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        strip = takes.source_of(scene, compat.active_strip(context))
        return scene, [strip] if strip is not None else [], scene.lipsync.provider, scene.lipsync.model

    @classmethod
    def poll(cls, context):
        if not gate.poll_network(cls, compat.sequencer_scene(context)):
            return False
        if compat.active_strip(context) is None:
            cls.poll_message_set("Make a movie strip active first")
            return False
        return True   # another kind of strip: execute() says why it cannot be lip-synced

    def start_jobs(self, context):
        from ..vse import launch, takes  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        strip = takes.source_of(scene, compat.active_strip(context))   # a take active: re-run its source
        if strip is None:
            return launch.Launched().refuse("", "Make a movie strip active first")
        sounds, overrides = None, None
        if settings.segments_strip == strip.name and len(settings.segments):
            # the panel's rows for this strip; otherwise every overlapping sound strip (rows are
            # not rebuilt here: a refused submit leaves the scene exactly as it was)
            try:
                sounds, overrides = segments.chosen_sounds(scene, strip)
            except LipsyncError as exc:
                return launch.Launched().refuse(strip.name, humanize(exc))
            if not sounds:
                return launch.Launched().refuse(strip.name,
                                                f'Every dialogue strip under "{strip.name}" is switched off')
        options = _options_or_report(self, settings, settings.provider, settings.model)
        if options is None:
            return launch.Launched()
        spec = launch.LaunchSpec(strip=strip.name, provider=settings.provider, model=settings.model, options=options,
                                 sound_strips=tuple(s.name for s in sounds) if sounds is not None else None,
                                 use_segments=settings.use_segments, segment_overrides=overrides)
        planned = launch.plan(scene, spec)
        if over_budget(self, scene, [planned], settings.provider, settings.model, options, self.confirm_budget):
            return launch.Launched()
        return launch.launch(scene, spec, planned)


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

    def _movies(self, context) -> list:
        movies = [s for s in compat.selected_strips(context)
                  if compat.strip_type(s) == "MOVIE" and not (s.lipsync.is_take or s.lipsync.is_fill)]
        movies.sort(key=lambda s: (compat.visible_range(s)[0], s.channel))
        return movies

    def budget_targets(self, context):
        scene = compat.sequencer_scene(context)
        return scene, self._movies(context), self.provider or scene.lipsync.provider, self.model or scene.lipsync.model

    @classmethod
    def poll(cls, context):
        # the key is checked in execute(): `provider` may name another provider than the panel's
        if not gate.poll_online(cls) or compat.sequencer_scene(context) is None:
            return False
        if not any(compat.strip_type(s) == "MOVIE" for s in compat.selected_strips(context)):
            cls.poll_message_set("Select one or more movie strips")
            return False
        return True

    def report_refused(self, launched) -> None:
        self.report_all(f"None of the {self._selected} selected strips could be submitted",
                        launched.reasons())

    def start_jobs(self, context):
        from ..vse import launch  # late: job code loads at first use (docs/architecture.md "Start-up")

        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        provider = self.provider or settings.provider
        model = self.model or settings.model
        options = _options_or_report(self, settings, provider, model, self.sync_mode)
        if options is None:
            return launch.Launched()
        movies = self._movies(context)
        self._selected = len(movies)
        if not movies:
            self.report({"ERROR"}, "Select one or more movie strips (takes are skipped)")
            return launch.Launched()
        specs = [launch.LaunchSpec(strip=strip.name, provider=provider, model=model, options=options,
                                   use_segments=settings.use_segments) for strip in movies]
        plans = [launch.plan(scene, spec) for spec in specs]       # each strip read once
        if over_budget(self, scene, plans, provider, model, options, self.confirm_budget):
            return launch.Launched()
        started = launch.Launched()
        for spec, planned in zip(specs, plans):
            started.add(launch.launch(scene, spec, planned))
        return started


classes = (LIPSYNC_OT_submit, LIPSYNC_OT_submit_selected)

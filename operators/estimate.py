"""`lipsync.provider_estimate`: the provider's own price of the selected strips.

sync.so prices a job itself (`POST /v2/analyze/cost`, docs/providers.md §1.2): the media is cut
and uploaded in a worker thread (worker/estimate.py), nothing is submitted. The panel's estimate
above it uses the published prices (vse/money.py) and costs nothing to show.
"""

from __future__ import annotations

import threading
import uuid

import bpy

from ..client.errors import LipsyncError, humanize
from ..preferences import provider_config
from ..vse import compat, gate
from ..vse.options import from_settings

# execute() (scripts, background) waits this long for the provider's answer, then gives up on it:
# every wait has a deadline; each request inside has its own (client/transport.py)
DEADLINE_SECONDS = 600.0


class LIPSYNC_OT_provider_estimate(bpy.types.Operator):
    """Ask the provider for its own price of the selected strips (sync.so; uploads the media, submits nothing)"""

    bl_idname = "lipsync.provider_estimate"
    bl_label = "Ask Provider for Price"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        scene = compat.sequencer_scene(context)
        if not gate.poll_network(cls, scene):
            return False
        from ..vse import money  # late: job code loads at first use (docs/architecture.md "Start-up")

        if not money.has_cost_endpoint(scene.lipsync.provider):
            cls.poll_message_set("Only sync.so has a cost endpoint; the estimate above uses the published prices")
            return False
        return True

    def _start(self, context) -> bool:
        # late: job code loads at first use (docs/architecture.md "Start-up")
        from ..vse import folders, money, snapshot
        from ..worker.estimate import provider_estimate  # late: as above

        scene = compat.sequencer_scene(context)
        settings = scene.lipsync
        movies = money.selected_movies(scene)
        if not movies:
            self.report({"ERROR"}, "Select one or more movie strips")
            return False
        try:
            planned = [j for strip in movies for j in snapshot.plan_jobs(scene, strip)]
        except LipsyncError as exc:
            self.report({"ERROR"}, humanize(exc))
            return False
        self._scene_name, self._count = scene.name, len(movies)
        self._result = {}
        root = folders.work_dir(f"estimate_{uuid.uuid4().hex[:8]}")
        self._thread = threading.Thread(
            target=provider_estimate, name="lipsync-estimate", daemon=True,
            args=(planned, settings.provider, settings.model, from_settings(settings),
                  provider_config(settings.provider), root, self._result))
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
        self._thread.join(timeout=DEADLINE_SECONDS)
        if self._thread.is_alive():       # its result, if one ever comes, is dropped
            self._result = {"error": f"no answer within {DEADLINE_SECONDS:.0f} s"}
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

"""What the artist is told: batch summaries, the status-bar line while jobs run, the notice when a
batch ends (status bar text for a few seconds, an optional chime), redraws.

MAIN THREAD. Report once, at the right level, and summarise batches (docs/architecture.md, "What the artist is told").
"""

from __future__ import annotations

import logging

import bpy

from ..preferences import get_prefs
from . import apply, records

log = logging.getLogger(__name__)


def problems(job_ids, refused=()) -> list[str]:
    """Every problem of a batch, one "strip: sentence" each: the strips refused before they became
    a job, the jobs that failed or need attention, and each note of a placed take (moved, trimmed,
    shorter, ...). Nothing is dropped: the operator reports each one (the Info log) and, in the
    UI, lists them in a popup."""
    found = list(refused)
    for job in records.of(job_ids):
        if job.status in ("FAILED", "REJECTED", "UNKNOWN"):
            found.append(f"{job.name}: {job.message}")
        elif job.notes:   # the inputs' notes (two voices sharing frames) and the placement's
            found += [f"{job.name}: {note}" for note in job.notes.splitlines() if note]
    return found


def summarize(job_ids, refused=()) -> tuple[str, str]:
    """(report level, "4 done, 1 failed: <reason>") for a set of jobs.
    `refused`: "strip: reason" of strips that never became a job (bad input), counted as failed.
    With more than one problem the line names the first and says where the others are: every one
    is reported on its own line (`problems`)."""
    done, failed, cancelled, unknown, noted = 0, len(refused), 0, 0, 0
    for job in records.of(job_ids):
        if job.status == "COMPLETED":
            done += 1
            noted += bool(job.notes)
        elif job.status == "CANCELLED":
            cancelled += 1
        elif job.status == "UNKNOWN":
            unknown += 1
        elif job.status in ("FAILED", "REJECTED"):
            failed += 1
    parts = [f"{done} done" + (f" ({noted} with notes)" if noted else "")]
    if failed:
        parts.append(f"{failed} failed")
    if unknown:
        parts.append(f"{unknown} need attention")
    if cancelled:
        parts.append(f"{cancelled} cancelled")
    text = ", ".join(parts)
    reasons = problems(job_ids, refused)
    if reasons:
        text += ": " + reasons[0] + (f" (all {len(reasons)} problems are listed in the Info log)"
                                     if len(reasons) > 1 else "")
    level = "INFO" if not (failed or unknown or noted) else ("ERROR" if not done else "WARNING")
    return level, text


class Progress:
    """How far one batch is: (in flight, progress) per job as last applied, and their totals,
    updated by vse/apply.py for each event it applies (`apply.watch`). The first status line reads
    the records no event has reached yet, once; after that a tick costs the events it applied,
    not the jobs it follows (issue #16: 1,000 jobs in flight). `close()` stops the updates."""

    def __init__(self, job_ids) -> None:
        self.job_ids = tuple(dict.fromkeys(job_ids))
        self._rows: dict[str, tuple[bool, float]] = {}
        self._finished = 0
        self._sum = 0.0                  # progress of the running jobs + 1 per finished one
        self._problems = 0               # jobs that failed, need attention, or whose take has notes
        self._filled = False
        apply.watch(self)

    def update(self, job_id: str, row) -> None:
        old = self._rows.pop(job_id, None)
        if old is not None:
            self._finished -= not old[0]
            self._sum -= old[1] if old[0] else 1.0
            self._problems -= old[2]
        if row is not None:
            self._rows[job_id] = row
            self._finished += not row[0]
            self._sum += row[1] if row[0] else 1.0
            self._problems += row[2]

    def _fill(self) -> None:
        unseen = []
        for job_id in self.job_ids:
            try:
                self.update(job_id, apply.shown(job_id))
            except KeyError:
                unseen.append(job_id)
        if unseen:                       # no event applied yet: read those records once
            found = {job.job_id: job for job in records.of(unseen)}
            for job_id in unseen:
                apply.remember_shown(job_id, found.get(job_id))     # updates self too
        self._filled = True

    def line(self) -> str:
        if not self._filled:
            self._fill()
        count = len(self._rows)
        if not count:
            return ""
        progress = min(1.0, max(0.0, self._sum / count))
        problems = f", {self._problems} with problems" if self._problems else ""
        return (f"Lip Sync: {self._finished}/{count} finished, {count - self._finished} running "
                f"({progress:.0%}){problems} - Esc to stop waiting")

    def close(self) -> None:
        apply.unwatch(self)


def status_line(progress: Progress) -> str:
    """Status-bar text while jobs run: 'Lip Sync: 2/5 finished, 3 running (41%), 1 with problems - Esc to
    stop waiting'."""
    return progress.line()


POPUP_LINES = 40


def popup(context, title: str, lines) -> None:
    """A popup listing `lines` (UI only; the Info log holds them all). Never raises: a popup that
    cannot open must not hide the report itself."""
    wm = getattr(context, "window_manager", None)
    if wm is None or getattr(context, "window", None) is None:
        return
    shown = list(lines[:POPUP_LINES])
    if len(lines) > POPUP_LINES:
        shown.append(f"... and {len(lines) - POPUP_LINES} more in the Info log")

    def draw(menu, _context):
        for line in shown:
            menu.layout.label(text=line)

    try:
        wm.popup_menu(draw, title=title, icon="ERROR")
    except (AttributeError, RuntimeError, TypeError):
        pass


def redraw_sequencers(context) -> None:
    wm = context.window_manager
    for window in getattr(wm, "windows", ()):
        screen = window.screen
        for area in (screen.areas if screen else ()):
            if area.type in ("SEQUENCE_EDITOR", "PROPERTIES"):
                area.tag_redraw()


def set_status(context, text) -> None:
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        try:
            workspace.status_text_set(text)
        except (AttributeError, RuntimeError, TypeError):
            pass


def notify(context, text: str, *, background: bool | None = None) -> bool:
    """Status bar text for a few seconds and, if the preference is on, a short chime; True when
    shown. Background mode has neither a status bar nor an audio device to bother."""
    if bpy.app.background if background is None else background:
        return False
    workspace = getattr(context, "workspace", None)
    if workspace is not None:
        try:
            workspace.status_text_set(text)
            _schedule_clear(workspace)
        except (AttributeError, RuntimeError, TypeError, ValueError):
            pass
    if get_prefs(context).notify_sound:
        play_chime()
    return True


# Workspaces whose status text the timer below clears. A named, module-level timer (not a lambda)
# so unregister can remove it (vse/handlers.py): a timer left registered hangs bpy 4.5 at exit
# (docs/blender.md §4).
_pending_clear = []


def _schedule_clear(workspace, seconds: float = 6.0) -> None:
    _pending_clear.append(workspace)
    if not bpy.app.timers.is_registered(clear_status):
        bpy.app.timers.register(clear_status, first_interval=seconds)


def clear_status():
    while _pending_clear:
        workspace = _pending_clear.pop()
        try:
            workspace.status_text_set(None)
        except (ReferenceError, RuntimeError, TypeError):
            pass
    return None


def play_chime() -> bool:
    """Two short tones through Blender's audio (aud); False when there is no device or no aud."""
    try:
        import aud  # late: Blender's audio module; only a finished batch with the chime on needs it
        device = aud.Device()
        tone = aud.Sound.sine(880).limit(0, 0.12).fadeout(0.08, 0.04)
        second = aud.Sound.sine(1320).limit(0, 0.18).fadeout(0.12, 0.06)
        device.play(tone.join(second))
        return True
    except Exception as exc:  # noqa: BLE001 - a missing sound device must not break a job's end
        log.debug("no completion sound: %s", exc)
        return False

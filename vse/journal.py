"""What Undo must not take back: what a job has done (docs/architecture.md, "Undo").

MAIN THREAD. Undo puts the whole file back as it was at the previous undo step, job records
included (docs/blender.md §10). Placing a take is its own step (vse/apply.py); undoing it removes
the take, as the artist asked, but it would also put the job's record back "in flight": the next
file open would re-attach, download and place the take again. Undoing past a submit would remove
a running (paid) job's record, and its result would be dropped on arrival.

So after each event that changes what a job *is* (prepared, submitted with a remote id, ended)
its record is noted here, in the Python session: undo never reaches it, and undo history does not
outlive the session. After each undo and redo, `restore` writes each noted record back (a record
the undo removed is made again), drops from it the takes the undo removed, and its message says
how to place one again at no cost. The take itself stays undone. A file load starts afresh.
"""

from __future__ import annotations

import bpy

from . import compat, records

# job id -> (scene name, every writable field of the record when last noted)
_noted: dict[str, tuple[str, dict]] = {}
# what must match for a record to be the noted one (progress and messages may move on)
_KEYS = ("status", "remote_id", "outputs_json", "takes_json", "cost", "fingerprint", "request_json")
UNDONE = ("its take was undone; the result is kept: Lip Sync the strip again to place it at no cost "
          "(the result cache), or Redo")


def _fields(rna) -> dict:
    return {p.identifier: getattr(rna, p.identifier) for p in rna.bl_rna.properties
            if p.identifier != "rna_type" and not p.is_readonly}


def note(scene, job) -> None:
    """Remember `job`'s record as it is now."""
    _noted[job.job_id] = (scene.name, _fields(job.rna))


def noted(job_id: str) -> bool:
    return job_id in _noted


def clear() -> None:
    _noted.clear()


def revive(job_id: str):
    """Write again the record of a noted job that an undo removed: (scene, JobRecord) or (None, None)."""
    scene_name, fields = _noted.get(job_id, ("", None))
    scene = bpy.data.scenes.get(scene_name) if fields is not None else None
    if scene is None:
        return None, None
    rna = scene.lipsync.jobs.add()
    _write(rna, fields)
    return scene, records.JobRecord(rna)


def _write(rna, fields: dict) -> None:
    for key, value in fields.items():
        if getattr(rna, key) != value:
            setattr(rna, key, value)


def _surviving_takes(scene, job) -> list[str]:
    """The takes of `job` in the timeline now: an undo removed some, a redo brought them back."""
    sed = scene.sequence_editor
    found = [s for s in compat.strips_all(sed) if s.lipsync.is_take and s.lipsync.job_id == job.job_id] \
        if sed is not None else []
    found.sort(key=lambda s: (s.lipsync.take_index, s.name))
    names = [s.name for s in found]
    for name in job.takes:      # a reused job lists the earlier job's take it re-activated
        strip = compat.strips_all(sed).get(name) if sed is not None else None
        if strip is not None and strip.lipsync.is_take and name not in names:
            names.append(name)
    return names


def _restore_one(scene, job_id: str, fields: dict) -> bool:
    _scene, job = records.find(job_id)
    if job is None:
        _scene, job = revive(job_id)
    elif any(getattr(job.rna, k) != fields[k] for k in _KEYS):
        _write(job.rna, fields)
    elif _surviving_takes(scene, job) == job.takes:
        return False
    kept = _surviving_takes(scene, job)
    if kept != job.takes:
        job.takes = kept
    undone = UNDONE in job.message
    if not kept and job.status == "COMPLETED" and not job.reused_from and not undone:
        job.message = f"{job.message}; {UNDONE}" if job.message else UNDONE
    elif kept and undone:                           # redo brought the take back
        job.message = job.message.replace(f"; {UNDONE}", "").replace(UNDONE, "")
    note(scene, job)
    return True


def restore() -> list[str]:
    """After undo/redo: every noted record back, minus undone takes. Returns the job ids changed."""
    changed = []
    for job_id, (scene_name, fields) in list(_noted.items()):
        scene = bpy.data.scenes.get(scene_name)
        try:
            if scene is not None and _restore_one(scene, job_id, fields):
                changed.append(job_id)
        except records.RecordError:
            continue   # a record the artist damaged is left as it is
    return changed

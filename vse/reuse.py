"""The result cache on the main thread: finished jobs by fingerprint, and placing a hit.

Fingerprints are made in workers (worker/fingerprint.py); here they are only compared. `start`
(vse/launch.py) hands a new job the fingerprints of the finished jobs whose result files still
exist, and the worker answers `CacheHit` instead of preparing, uploading or submitting anything
(docs/architecture.md, "Money").
"""

from __future__ import annotations

import os

import bpy

from . import lines, recordcheck, records, takes


def known_results() -> dict[str, str]:
    """fingerprint -> job id of finished jobs whose result files are still there."""
    found = {}
    for _scene, job in records.everywhere():
        if job.status != "COMPLETED" or not job.fingerprint or job.fingerprint in found:
            continue
        if recordcheck.problem(job):
            continue   # a damaged record is never a cache source (it may come from someone else's .blend)
        outputs = job.outputs
        if outputs and all(os.path.isfile(bpy.path.abspath(o)) for o in outputs):
            found[job.fingerprint] = job.job_id
    return found


def reuse(scene, job, source) -> takes.Placed:
    """Apply a cache hit: re-activate the source's take when it is a take of the same strip, else
    place the cached result files as new takes."""
    # a piece of a split job (worker/ranges.py) always gets its own take: re-activating an old
    # piece would mute the other pieces placed with it
    same_strip = source.source_strip == job.source_strip and not job.group and not source.group
    existing = [takes.find_take(scene, name, job.source_strip) for name in source.takes]
    existing = [t for t in existing if t is not None]
    if same_strip and existing:
        takes.select_take(scene, job.source_strip, existing[0].name)
        return takes.Placed([t.name for t in existing], [])
    if not job.request and lines.spoke_text(source):
        # same fingerprint = same words and voice: the new take gets its spoken line too (vse/lines.py)
        job.request = source.request
    return takes.place_outputs(scene, job, [bpy.path.abspath(o) for o in source.outputs])


def adopt(scene, job, source) -> None:
    """Give record `job` the result of `source` (a finished record with the same inputs) at no
    charge: its take re-activated, or placed again for another strip. Raises when it cannot."""
    job.reused_from = source.job_id
    job.remote_id = source.remote_id
    job.cost = 0.0
    job.outputs = source.outputs
    placed = reuse(scene, job, source)
    job.takes = placed.names
    # the inputs' notes (written with the record) stay beside the placement's, each once
    job.notes = "\n".join(dict.fromkeys(n for n in [*job.notes.splitlines(), *placed.notes] if n))
    job.status = "COMPLETED"
    job.progress = 1.0
    job.message = "; ".join([f"Reused take {', '.join(placed.names)}, no charge (same inputs as the job of "
                             f'"{source.name}")', *job.notes.splitlines()])
    records.touch()


def joiners(leader_id: str) -> list:
    """(scene, record) of the jobs in flight waiting for `leader_id`'s result (worker/joins.py)."""
    return [(scene, job) for scene, job in records.everywhere() if job.joined == leader_id and job.in_flight]

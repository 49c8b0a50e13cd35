"""Job records: typed access to the LipsyncJob PropertyGroups saved in the .blend.

MAIN THREAD. `JobRecord` wraps one record and is the only code that encodes and decodes its JSON
fields (options, placement, sound strips, segment overrides, outputs, takes, resume data): every
other module reads `job.placement` (a worker/plan.py Placement), `job.outputs` (a list), ...
A record may come from someone else's .blend, so decoding checks what it reads and raises
`RecordError`, an InputError naming the record and the field, instead of a KeyError or TypeError
deep inside a poll() or a panel.

Records are written before any network call (docs/architecture.md step 2): `create()` stores the
provider, model, options, the client key (Idempotency-Key / Runware taskUUID) and the placement.
The API key is never part of a record.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import bpy

from ..client.errors import InputError
from ..client.models import JobRequest, new_client_key
from ..worker import envelope
from ..worker.plan import Placement
from .placement import anchored
from .status import IN_FLIGHT


class RecordError(InputError):
    """A job record holds something this add-on never writes (edited, damaged or another version).
    `detail` says what, without the record's name ("its placement is incomplete")."""

    def __init__(self, record: str, detail: str) -> None:
        super().__init__(f'Job record "{record}": {detail}')
        self.detail = detail


# No field this add-on writes comes near this (a request with 100 segments is ~20 kB): a longer
# one is not ours, and is not decoded.
MAX_JSON = 256 * 1024
_PLACEMENT_TYPES = {f.name: (str if f.type in ("str", str) else int) for f in dataclasses.fields(Placement)}


class JobRecord:
    """One job record. Plain fields (status, progress, message, remote_id, ...) read and write
    straight through to RNA; the JSON-backed ones are properties with their real types."""

    __slots__ = ("rna",)

    def __init__(self, rna) -> None:
        object.__setattr__(self, "rna", rna)

    def __getattr__(self, name: str) -> Any:
        if name.endswith("_json"):
            raise AttributeError(f"{name}: read it through its JobRecord property")
        return getattr(self.rna, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.endswith("_json"):
            raise AttributeError(f"{name}: write it through its JobRecord property")
        if name in type(self).__dict__:     # a typed property
            object.__setattr__(self, name, value)
        else:
            setattr(self.rna, name, value)

    def __eq__(self, other) -> bool:
        return isinstance(other, JobRecord) and other.rna.job_id == self.rna.job_id

    def __hash__(self) -> int:
        return hash(self.rna.job_id)

    def __repr__(self) -> str:
        return f"JobRecord({self.rna.job_id!r}, {self.rna.status})"

    # -- decoding ------------------------------------------------------------------------------
    def _decode(self, field: str, kind: type, default):
        text = getattr(self.rna, field + "_json") or ""
        if not text:
            return default
        if len(text) > MAX_JSON:
            raise RecordError(self.rna.name, f"its {field} is too long")
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):    # RecursionError: "[[[[..." nested past the stack
            raise RecordError(self.rna.name, f"its {field} is not valid JSON") from None
        if not isinstance(value, kind):
            raise RecordError(self.rna.name, f"its {field} should be a "
                              f"{'list' if kind is list else 'JSON object'}, not {type(value).__name__}")
        return value

    def _encode(self, field: str, value) -> None:
        setattr(self.rna, field + "_json", json.dumps(value, sort_keys=True))

    def _strings(self, field: str) -> list[str]:
        value = self._decode(field, list, [])
        if not all(isinstance(v, str) for v in value):
            raise RecordError(self.rna.name, f"its {field} should be a list of names")
        return value

    # -- typed fields --------------------------------------------------------------------------
    @property
    def in_flight(self) -> bool:
        return self.rna.status in IN_FLIGHT

    @property
    def options(self) -> dict:
        """Client options as a plain dict (speaker frames count frames of the upload)."""
        return self._decode("options", dict, {})

    @options.setter
    def options(self, value: dict) -> None:
        self._encode("options", value)

    @property
    def placement(self) -> Placement:
        data = self._decode("placement", dict, {})
        for key, value in data.items():
            want = _PLACEMENT_TYPES.get(key)
            if want is None or isinstance(value, bool) or not isinstance(value, want):
                raise RecordError(self.rna.name, f"its placement has a bad field {key[:40]!r}")
        try:
            return Placement(**data)
        except TypeError:
            raise RecordError(self.rna.name, "its placement is incomplete") from None

    @placement.setter
    def placement(self, value: Placement) -> None:
        self._encode("placement", dataclasses.asdict(value))

    @property
    def frame_range(self) -> tuple[int | None, int | None]:
        """(frame_start, frame_end) of the placement, (None, None) when the record has none."""
        data = self._decode("placement", dict, {})
        return data.get("frame_start"), data.get("frame_end")

    @property
    def sound_strips(self) -> list[str]:
        return self._strings("sound_strips")

    @sound_strips.setter
    def sound_strips(self, names: list[str]) -> None:
        self.rna.sound_strips_json = json.dumps(list(names))

    @property
    def segment_overrides(self) -> dict:
        """Per-segment options by sound strip name."""
        return self._decode("segment_overrides", dict, {})

    @segment_overrides.setter
    def segment_overrides(self, value: dict) -> None:
        self._encode("segment_overrides", value or {})

    @property
    def outputs(self) -> list[str]:
        """Result files of the job, as saved (`//lipsync/...` once the .blend is saved)."""
        return self._strings("outputs")

    @outputs.setter
    def outputs(self, paths: list[str]) -> None:
        self.rna.outputs_json = json.dumps(list(paths))

    @property
    def takes(self) -> list[str]:
        """Names of the take strips placed for this job."""
        return self._strings("takes")

    @takes.setter
    def takes(self, names: list[str]) -> None:
        self.rna.takes_json = json.dumps(list(names))

    @property
    def resume(self) -> dict:
        """What polling needs besides the remote id (client RemoteRef.extra)."""
        return self._decode("resume", dict, {})

    @resume.setter
    def resume(self, value: dict) -> None:
        self._encode("resume", value or {})

    @property
    def request(self) -> str:
        """The JobRequest as submitted (client JobRequest.to_json), "" before the media was cut."""
        return self.rna.request_json

    @request.setter
    def request(self, text: str) -> None:
        self.rna.request_json = text

    @property
    def uploaded(self) -> dict:
        """Input name -> what the provider's upload returned, saved right before the paid submit
        (client Submitting.refs): a resubmit sends these again instead of uploading anew."""
        refs = self._decode("uploaded", dict, {})
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in refs.items()):
            raise RecordError(self.rna.name, "its uploaded should map names to references")
        return refs

    @uploaded.setter
    def uploaded(self, value: dict) -> None:
        self._encode("uploaded", value or {})

    @property
    def submitted_request(self) -> JobRequest | None:
        """The saved request decoded (None before the media was cut); RecordError when it is not
        a JobRequest of this record's provider, model and key."""
        text = self.rna.request_json
        if not text:
            return None
        if len(text) > MAX_JSON:
            raise RecordError(self.rna.name, "its saved request is too long")
        try:
            request = JobRequest.from_json(text)
        except (InputError, TypeError, ValueError, RecursionError):
            raise RecordError(self.rna.name, "its saved request cannot be read") from None
        if (request.provider, request.model, request.client_key) != (self.rna.provider, self.rna.model,
                                                                     self.rna.client_key):
            raise RecordError(self.rna.name, "its saved request is for another provider, model or key")
        return request


# -- lookup -----------------------------------------------------------------------------------
# job id -> (scene name, index) of EVERY record of the open file, kept in step with the
# collections: `create` adds its record, and the map is rebuilt only when a collection's size is
# not the one it was built for (a file load, an undo, a record removed by hand) or a hit is stale.
# So a lookup is O(1), also for an id that is not in the file (issue #16: a miss used to walk every
# record, once per event of a closed file's jobs). Only names and indices are kept, never RNA
# pointers: a CollectionProperty reallocates on add/remove, and file loads replace every datablock.
_where: dict[str, tuple[str, int]] = {}
_sizes: dict[str, int] | None = None       # scene name -> len(jobs) that _where describes
# Bumped when records are added or finish (`touch`) and on file loads: what is cached from the
# records (the panel's estimate counts identical finished jobs as free) is keyed by it.
revision = 0


def touch() -> None:
    global revision
    revision += 1


def _sizes_now() -> dict[str, int]:
    return {scene.name: len(scene.lipsync.jobs) for scene in bpy.data.scenes}


rebuilds = 0                               # how often the map was rebuilt (tests see it kept in step)


def _rebuild() -> None:
    global _sizes, rebuilds
    rebuilds += 1
    _where.clear()
    for scene in bpy.data.scenes:
        for index, rna in enumerate(scene.lipsync.jobs):
            _where[rna.job_id] = (scene.name, index)
    _sizes = _sizes_now()


def forget() -> None:
    """The open file changed wholesale (load, undo): the next lookup rebuilds the map."""
    global _sizes
    _where.clear()
    _sizes = None
    touch()


def _at(job_id: str, hit):
    if hit is not None:
        scene = bpy.data.scenes.get(hit[0])
        if scene is not None and hit[1] < len(scene.lipsync.jobs):
            rna = scene.lipsync.jobs[hit[1]]
            if rna.job_id == job_id:
                return scene, JobRecord(rna)
    return None


def find(job_id: str):
    """(scene, JobRecord) of a job id in the open file, or (None, None). O(1): one lookup per
    event of the drain, and a tick may apply many events."""
    hit = _where.get(job_id)
    found = _at(job_id, hit)
    if found is not None:
        return found
    if hit is None and _sizes is not None and _sizes == _sizes_now():
        return None, None                  # the map is complete: no such record
    _rebuild()
    return _at(job_id, _where.get(job_id)) or (None, None)


def of(job_ids) -> list[JobRecord]:
    """The records of `job_ids` that exist, in the order of `job_ids` (each once)."""
    found, seen = [], set()
    for job_id in job_ids:
        if job_id not in seen:
            seen.add(job_id)
            job = find(job_id)[1]
            if job is not None:
                found.append(job)
    return found


def in_scene(scene) -> list[JobRecord]:
    return [JobRecord(rna) for rna in scene.lipsync.jobs]


def everywhere() -> list[tuple[Any, JobRecord]]:
    """(scene, record) for every record of the open file."""
    return [(scene, JobRecord(rna)) for scene in bpy.data.scenes for rna in scene.lipsync.jobs]


def selected(scene) -> JobRecord | None:
    """The record selected in the panel's Jobs list."""
    settings = scene.lipsync
    if 0 <= settings.jobs_index < len(settings.jobs):
        return JobRecord(settings.jobs[settings.jobs_index])
    return None


def create(scene, strip_job, *, provider: str, model: str, options: dict, use_segments: bool,
           segment_overrides: dict | None, group: str, handle_frames: int, estimate: float,
           out_dir: str, client_key: str | None = None) -> JobRecord:
    """Write a new record for `strip_job` (a worker/plan.py StripJob) before anything is sent."""
    in_step = _sizes is not None and _sizes == _sizes_now()
    rna = scene.lipsync.jobs.add()
    job = JobRecord(rna)
    job.job_id = new_client_key()
    touch()
    if in_step:                            # keep the id map complete (see find)
        _where[job.job_id] = (scene.name, len(scene.lipsync.jobs) - 1)
        _sizes[scene.name] = len(scene.lipsync.jobs)
    job.name = strip_job.placement.source_strip
    job.provider, job.model = provider, model
    job.options = options
    # Created and stored before anything touches the network: a resubmit after a crash sends the
    # same key, which the idempotent providers de-duplicate (docs/providers.md §1.11, §2.6).
    job.client_key = client_key or new_client_key()
    job.status = "PENDING"
    job.created = time.time()
    job.source_strip = strip_job.placement.source_strip
    job.placement = anchored(scene, strip_job)   # the source by uid, and where it was
    # the dialogue strips by name, Text strips included (a re-run finds them again, issue 17)
    job.sound_strips = [p.strip_name for p in strip_job.audio] + [t.strip_name for t in strip_job.text]
    job.notes = envelope.overlap_note(strip_job.audio)
    job.segment_overrides = segment_overrides or {}
    job.use_segments = use_segments
    job.group = group
    job.handle_frames = handle_frames
    job.estimate = estimate
    job.out_dir = out_dir
    job.out_stem = f"{bpy.path.clean_name(job.source_strip)}_{job.job_id[:8]}"
    scene.lipsync.jobs_index = len(scene.lipsync.jobs) - 1
    return job


RETRYABLE = ("FAILED", "REJECTED")


def failed(scene) -> list[JobRecord]:
    """Records Retry Failed Only re-runs: failed (or cancelled before submitting) with no later
    success or run of the same strip and range. Oldest first."""
    found, ranges = [], {}
    for job in in_scene(scene):
        try:
            ranges[job] = (job.source_strip, job.frame_range)
        except RecordError:
            continue       # a damaged record is never retried (vse/recordcheck.py), and never breaks a poll()
        found.append(job)
    later_ok: dict = {}
    for job in found:
        if job.status == "COMPLETED" or job.in_flight:
            key = ranges[job]
            later_ok[key] = max(later_ok.get(key, 0.0), job.created)
    retry = [job for job in found
             if (job.status in RETRYABLE or (job.status == "CANCELLED" and not job.remote_id))
             and later_ok.get(ranges[job], -1.0) < job.created]
    retry.sort(key=lambda job: job.created)
    return retry

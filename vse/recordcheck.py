"""One check of a whole job record, before the record is used (issue #13: a record is untrusted).

MAIN THREAD. A .blend may come from someone else, an older or newer version, or a hand edit, and
a record's fields end up in URLs (remote id), HTTP headers (the idempotency key), file names (out
stem, job id), folders (out dir) and sums (cost). So every path that acts on a record — re-attach
(vse/reattach.py), retry (vse/launch.py rerun), the events applied to it (vse/apply.py) and the
Jobs panel — asks `problem(job)` first. A record with a problem is marked (`refuse`: "Needs
Attention" and a sentence naming the field, never echoing the bad value, which may be 10 kB or
carry a key) and nothing is sent for it; the other records of the file go on.

Each field is held to what this add-on writes (vse/records.py `create`, vse/apply.py): names from
client/names.py, ids of the shapes client/models.py defines, numbers finite and in range, JSON
fields decoded by their JobRecord properties (RecordError).
"""

from __future__ import annotations

import logging
import math
import operator
import os
import re

import bpy

from ..client.errors import InputError, contains_secret, secrets_generation
from ..client.models import CLIENT_KEY, OUTPUT_FORMATS, REMOTE_ID, Options
from ..client.names import MODELS, PROVIDERS
from ..client.uploads import ref_problem
from ..worker import scratch
from . import folders, records
from .status import STATUS_ITEMS

log = logging.getLogger(__name__)

STATUSES = tuple(item[0] for item in STATUS_ITEMS)
# records.create writes `bpy.path.clean_name(strip)_<8 hex>` (letters, digits, "_"): a file name
# with no separator, no "..", and short enough for every file system with a suffix added
STEM = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
GROUP = re.compile(r"[0-9a-f-]{0,36}")          # new_client_key()[:12], or "" (one piece)
HEX = re.compile(r"[0-9a-f]{0,64}")             # fingerprint (sha256), input hash (32 hex), or ""
MAX_NAME = 256                                  # strip names are at most 63 bytes in Blender
MAX_MESSAGE = 4096
MAX_USD = 10_000.0                              # per job: far above any price in client/pricing.py
LATEST = 4102444800.0                           # 2100-01-01: no timestamp is later
# field: (lowest, highest, how the sentence names it)
NUMBERS = {
    "progress": (0.0, 1.0, "progress"),
    "attempts": (0, 10_000, "attempt count"),
    "handle_frames": (0, 250, "handle frame count"),   # the panel's `handles` allows 0..250
    "created": (0.0, LATEST, "creation time"),
    "submitted": (0.0, LATEST, "submit time"),
    "finished": (0.0, LATEST, "finish time"),
}
PRICES = {"cost": "cost", "estimate": "estimate"}   # -1 = none, else 0..MAX_USD


def _ids(job) -> str | None:
    if not CLIENT_KEY.fullmatch(job.job_id):
        return "job id is not one this add-on makes"
    if job.provider not in PROVIDERS:
        return "provider is not one of " + ", ".join(PROVIDERS)
    if job.model not in MODELS:
        return "model is not one of " + ", ".join(MODELS)
    if not CLIENT_KEY.fullmatch(job.client_key) or contains_secret(job.client_key):
        return "idempotency key is not one this add-on makes"
    if job.remote_id and (not REMOTE_ID.fullmatch(job.remote_id) or contains_secret(job.remote_id)):
        return "remote id is not a job id a provider gives (a letter or digit, then up to 199 of A-Z a-z 0-9 . _ : -)"
    if job.status not in STATUSES:
        return "status is unknown"
    if job.reused_from and not CLIENT_KEY.fullmatch(job.reused_from):
        return "cache source is not a job id"
    return None


def _names(job) -> str | None:
    if not STEM.fullmatch(job.out_stem) or ".." in job.out_stem:
        return "output name is not a plain file name"
    if not folders.is_trusted_out_dir(job.out_dir):
        return "output folder is not this file's //lipsync folder"
    if len(job.name) > MAX_NAME or len(job.source_strip) > MAX_NAME:
        return "strip name is too long"
    if len(job.message) > MAX_MESSAGE:
        return "message is too long"
    if not GROUP.fullmatch(job.group):
        return "group is not one this add-on makes"
    if not HEX.fullmatch(job.fingerprint) or not HEX.fullmatch(job.input_hash):
        return "fingerprint is not a hash"
    return None


def _numbers(job) -> str | None:
    for field, (low, high, label) in NUMBERS.items():
        value = getattr(job, field)
        if not (math.isfinite(value) and low <= value <= high):
            return f"{label} is not a number from {low} to {high:g}"
    for field, label in PRICES.items():
        value = getattr(job, field)
        if not (math.isfinite(value) and (value == -1.0 or 0.0 <= value <= MAX_USD)):
            return f"{label} is not an amount of dollars"
    return None


def _format(options: Options, what: str) -> str | None:
    # the output format becomes the result's file extension (client/jobs.py download_all)
    if options.output_format is not None and options.output_format.upper() not in OUTPUT_FORMATS:
        return f"{what} name an output format that is not one of {', '.join(OUTPUT_FORMATS)}"
    return None


def _options(options: dict) -> str | None:
    try:
        parsed = Options(**options)
    except (InputError, TypeError, ValueError, RecursionError):
        return "options are not options this version knows"
    return _format(parsed, "options")


def _json(job) -> str | None:
    try:
        options, overrides, resume = job.options, job.segment_overrides, job.resume
        job.placement, job.sound_strips, job.outputs, job.takes   # noqa: B018 - decoding is the check
        request = job.submitted_request
        uploaded = job.uploaded
    except records.RecordError as exc:
        return exc.detail.removeprefix("its ")
    problem = _options(options)
    if problem is None and any(ref_problem(ref) for ref in uploaded.values()):
        problem = "saved uploads are not upload references"
    if problem is None and request is not None:
        problem = _format(request.options, "saved request's options")
    if problem is None and not all(isinstance(v, dict) for v in overrides.values()):
        problem = "segment overrides are not options"
    if problem is None and not all(v is None or isinstance(v, (str, int, float, bool)) and len(str(v)) <= 200
                                   for v in resume.values()):
        problem = "resume data is not a few plain values"
    return problem


CHECKS = (_ids, _names, _numbers, _json)

# One verdict per state of a finished record. The checks read the record's own fields and
# `_context()` only: the open .blend's path, the working folder and this user's temp folder decide
# which out dirs are trusted, the registered keys which ids carry one. The result cache asks
# `problem` of every finished record on each launch and each estimate (1,000 records: ~70 ms,
# issue #16), so a finished record's verdict is kept by its fields and the context: any edit of
# the record is another key. A check that reads anything else must add it to `_context`.
_verdicts: dict[tuple, str | None] = {}
MAX_VERDICTS = 10_000               # then forgotten all at once (a finished record rarely changes)
_PLAIN = {"STRING", "INT", "FLOAT", "BOOLEAN", "ENUM"}
_readers: dict[type, object] = {}   # record class -> attrgetter of its fields (None: a field is no plain value)


def _context() -> tuple:
    return bpy.data.filepath, os.getcwd(), scratch.root(), secrets_generation()


def _fields(rna) -> tuple | None:
    """Every field of a record's RNA as one value, or None when a field is no plain value (a
    collection, pointer, array or set)."""
    reader = _readers.get(type(rna), False)
    if reader is False:
        props = [p for p in rna.bl_rna.properties if p.identifier != "rna_type"]
        plain = props and all(p.type in _PLAIN and not getattr(p, "array_length", 0)
                              and not getattr(p, "is_enum_flag", False) for p in props)
        reader = _readers[type(rna)] = operator.attrgetter(*(p.identifier for p in props)) if plain else None
    return reader(rna) if reader is not None else None


def _kept_key(job) -> tuple | None:
    """What the verdict of a finished record is kept by; None when it is not kept: a record in
    flight (its progress changes all the time), one that cannot be read, no temp folder."""
    try:
        if job.status != "COMPLETED":
            return None
        fields = _fields(job.rna)
        return None if fields is None else (fields, _context())
    except Exception:  # noqa: BLE001 - then _problem checks it (and says what cannot be read)
        return None


def problem(job) -> str | None:
    """The sentence saying what is wrong with record `job` (a records.JobRecord), or None."""
    key = _kept_key(job)
    if key is None:
        return _problem(job)
    if key not in _verdicts:
        if len(_verdicts) >= MAX_VERDICTS:
            _verdicts.clear()
        _verdicts[key] = _problem(job)
    return _verdicts[key]


def _problem(job) -> str | None:
    for check in CHECKS:
        try:
            what = check(job)
        except Exception:  # noqa: BLE001 - a record we cannot even check is not used, and never breaks a draw
            log.debug("checking job record %s", job.job_id[:40], exc_info=True)
            what = "fields cannot be read"
        if what:
            return f"This job record is damaged or from another version: its {what}; nothing was sent"
    return None


def refuse(job, why: str) -> None:
    """Mark a record that failed the check with the sentence. One in flight or failed becomes
    "Needs Attention": never re-attached, never in Retry Failed Only (it may have been billed). A
    finished one keeps its status (its take is on the timeline) and only says why."""
    if job.in_flight or job.status in ("FAILED", "REJECTED", "CANCELLED"):
        job.status = "UNKNOWN"
    if job.message != why:
        job.message = why
        log.warning("lip-sync job record %s: %s", job.job_id[:40], why)


def usable(job) -> bool:
    """Check `job`; mark it and return False when it may not be used."""
    why = problem(job)
    if why is None:
        return True
    refuse(job, why)
    return False


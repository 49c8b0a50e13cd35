"""The CLI's job file: what `python -m client run` knows about its job, saved beside `--out`.

It is written before anything is uploaded and again before the first paid POST (from the
`Submitting` event, while the job generator waits), so a crash or a SIGKILL at any point leaves
enough on disk for the same command to resume instead of paying again (issue #13): poll the
remote id when there is one, resend the same bytes under the same key where the provider
de-duplicates (sync.so, Runware), or report UNKNOWN without sending anything where it does not.

It holds the provider, model, client key, request, uploaded refs and remote id; never the API key
(every string is scrubbed before it is written). It is read back as untrusted input: a file edited
by hand, or from another run, is refused with a sentence, never half-used.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from .config import MODELS, PROVIDERS
from .errors import InputError
from .events import json_safe
from .models import JobRequest
from .uploads import ref_problem

SUFFIX = ".lipsync-job.json"
VERSION = 1
STATES = ("new", "uploading", "submitting", "submitted", "processing", "completed", "failed", "rejected",
          "cancelled", "unknown")
#: states in which a submit may have reached the provider without its answer being recorded
MAYBE_SENT = ("submitting", "unknown")
_KEY = re.compile(r"[A-Za-z0-9._~-]{1,128}")  # sync.so's Idempotency-Key alphabet (§1.11)
_MAX_BYTES = 1024 * 1024


def path_for(out: Path) -> Path:
    return out.with_name(out.name + SUFFIX)


class JobFile:
    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data

    @classmethod
    def new(cls, path: Path, provider: str, model: str, client_key: str, out: Path) -> JobFile:
        return cls(path, {"version": VERSION, "provider": provider, "model": model, "client_key": client_key,
                          "out": str(out), "state": "new", "refs": {}, "remote_id": None, "extra": {},
                          "request_json": None, "idempotent": None, "accepted": None, "message": "",
                          "created": time.time()})

    @classmethod
    def load(cls, path: Path) -> JobFile | None:
        """The saved job, None when there is none; InputError when the file cannot be trusted."""
        try:
            with open(path, "rb") as f:
                raw = f.read(_MAX_BYTES + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise InputError(f"the job file {path} cannot be read: {exc.strerror or exc}") from None
        try:
            if len(raw) > _MAX_BYTES:
                raise ValueError("too large")
            data = json.loads(raw.decode("utf-8"))
            problem = _problem(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            problem = f"it is not a job file ({type(exc).__name__})"
        if problem:
            raise InputError(f"the job file {path} is not usable: {problem}; move it away to start a new job "
                             "(if it was for a job already submitted, check the provider's dashboard first)")
        return cls(path, data)

    def get(self, name: str, default: Any = None) -> Any:
        return self.data.get(name, default)

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        self.data["updated"] = time.time()
        self.save()

    def save(self) -> None:
        """Atomically, and flushed to disk: this is the record a rerun trusts."""
        text = json.dumps(json_safe(self.data), indent=2, sort_keys=True, allow_nan=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the output folder {self.path.parent}: {exc.strerror or exc}") from None
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def _problem(data: Any) -> str | None:
    from .submitting import REMOTE_ID  # late: submitting loads the transport (httpx); a job file is read first

    if not isinstance(data, dict) or data.get("version") != VERSION:
        return "unknown format or version"
    if data.get("provider") not in PROVIDERS or data.get("model") not in MODELS:
        return "unknown provider or model"
    if not isinstance(data.get("client_key"), str) or not _KEY.fullmatch(data["client_key"]):
        return "the client key is not valid"
    if data.get("state") not in STATES:
        return "unknown state"
    remote_id = data.get("remote_id")
    if remote_id is not None and (not isinstance(remote_id, str) or not REMOTE_ID.fullmatch(remote_id)):
        return "the remote id is not valid"
    refs = data.get("refs")
    if not isinstance(refs, dict) or any(not isinstance(k, str) or ref_problem(v) for k, v in refs.items()):
        return "the uploaded refs are not valid"
    if not isinstance(data.get("extra"), dict):
        return "the resume data is not valid"
    request_json = data.get("request_json")
    if request_json is not None:
        try:
            request = JobRequest.from_json(request_json) if isinstance(request_json, str) else None
        except (InputError, TypeError):
            request = None
        if request is None or request.client_key != data["client_key"] or request.provider != data["provider"]:
            return "the saved request does not match the job"
    return None

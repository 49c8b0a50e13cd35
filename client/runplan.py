"""What `python -m client run` does given the job file beside --out, and how it keeps it current.

`plan_run` reads the file (jobfile.JobFile) and decides, before any network call:

| job file                                   | plan                                             |
|--------------------------------------------|--------------------------------------------------|
| none, nothing sent yet, or never accepted   | new: a new client key, a new file                |
| a remote id                                | resume: poll it and download (never a submit);   |
|                                            | done when it completed and --out exists          |
| a submit maybe sent, idempotent provider   | resubmit: the recorded request and refs, same key|
| a submit maybe sent, no idempotency        | unknown: nothing is sent, exit 3                 |

`Recorder` writes every event that changes what a rerun must do, synchronously, before the job
generator is asked for its next step: the Submitting event reaches the disk before the POST.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import LABELS
from .errors import InputError
from .events import Completed, Failed, JobState, Status, Submitted, Submitting, Uploaded
from .jobfile import MAYBE_SENT, JobFile, path_for
from .models import JobRequest, new_client_key
from .providers import RemoteRef

_FAILED_STATES = {JobState.UNKNOWN: "unknown", JobState.FAILED: "failed", JobState.REJECTED: "rejected",
                  JobState.CANCELLED: "cancelled"}


@dataclasses.dataclass
class RunPlan:
    kind: str  # new | resume | resubmit | unknown | done
    job: JobFile
    request: JobRequest | None = None
    resume: RemoteRef | None = None
    uploaded: dict[str, str] | None = None
    note: str = ""


def plan_run(a, out: Path, request_from_args: Callable[..., JobRequest]) -> RunPlan:
    job_path = path_for(out)
    saved = JobFile.load(job_path)
    if saved is not None:
        plan = _plan_saved(a, out, saved, request_from_args)
        if plan is not None:
            if plan.kind not in ("done", "unknown"):
                saved.update(resumed=saved.get("resumed", 0) + 1)
            return plan
    key = a.client_key or new_client_key()
    request = request_from_args(a, key)
    job = JobFile.new(job_path, a.provider, a.model, key, out)
    job.update(request_json=request.to_json())  # on disk before the first upload
    return RunPlan("new", job, request)


def _plan_saved(a, out: Path, saved: JobFile, request_from_args) -> RunPlan | None:
    path = saved.path
    state, remote_id = saved.get("state"), saved.get("remote_id")
    at_provider = bool(remote_id) or state in MAYBE_SENT or saved.get("accepted") is True
    if not at_provider:
        # nothing reached the provider's submit (or it refused it): nothing to protect
        return None
    provider, model = saved.get("provider"), saved.get("model")
    if (provider, model) != (a.provider, a.model):
        raise InputError(f"{path} holds a {LABELS[provider]} {model} job for this output; give another --out, "
                         "or move that file away to start a new job")
    key = saved.get("client_key")
    if a.client_key and a.client_key != key:
        raise InputError(f"{path} holds a job with client key {key}, not {a.client_key}")
    if not remote_id:
        return _maybe_sent(a, saved, request_from_args)
    if state == "completed" and out.is_file():
        return RunPlan("done", saved, note=f"already done: {out} (job {remote_id}); nothing was sent")
    request = _saved_request(saved) or request_from_args(a, key)
    return RunPlan("resume", saved, request, resume=RemoteRef(remote_id, dict(saved.get("extra") or {})),
                   note=f"resuming job {remote_id} from {path.name}: polling it, never submitting again")


def _maybe_sent(a, saved: JobFile, request_from_args) -> RunPlan:
    path, key, provider = saved.path, saved.get("client_key"), saved.get("provider")
    label = LABELS[provider]
    request = _saved_request(saved)
    if saved.get("idempotent") and request is not None:
        differs = _differs(request, request_from_args(a, key))
        note = (f"resending the submit recorded in {path.name} byte for byte under the same idempotency key "
                f"{key}: {label} never bills it twice")
        if differs:
            note += " (the options given now differ from the recorded ones; the recorded request is sent)"
        return RunPlan("resubmit", saved, request, uploaded=dict(saved.get("refs") or {}), note=note)
    return RunPlan("unknown", saved, note=(
        f"{label}: a submit for this output was sent earlier and its outcome is unknown ({path}): the job may "
        f"exist and be billed, so it is not sent again. Check the {label} dashboard; to submit a new paid job, "
        f"move {path.name} away and run the command again."))


def _saved_request(saved: JobFile) -> JobRequest | None:
    text = saved.get("request_json")
    return JobRequest.from_json(text) if isinstance(text, str) else None


def _differs(saved: JobRequest, given: JobRequest) -> bool:
    def inputs(r: JobRequest) -> Any:
        return (r.video, [(x.id, x.path) for x in r.audio], dataclasses.asdict(r.options))

    return inputs(saved) != inputs(given)


class Recorder:
    """Keeps the job file in step with the job's events (see the module docstring)."""

    def __init__(self, job: JobFile) -> None:
        self.job = job
        if not job.path.exists():
            job.save()

    def event(self, event: Any) -> None:
        job = self.job
        if isinstance(event, Uploaded):
            refs = dict(job.get("refs") or {})
            if refs.get(event.name) != event.ref:
                refs[event.name] = event.ref
                job.update(state="uploading", refs=refs)
        elif isinstance(event, Submitting):
            job.update(state="submitting", refs=dict(event.refs), request_json=event.request_json,
                       idempotent=event.idempotent, client_key=event.client_key)
        elif isinstance(event, Submitted):
            job.update(state="submitted", remote_id=event.remote_id, extra=dict(event.extra), accepted=True)
        elif isinstance(event, Status) and job.get("state") == "submitted":
            job.update(state="processing")
        elif isinstance(event, Completed):
            job.update(state="completed", outputs=list(event.outputs), cost=event.cost, accepted=True)
        elif isinstance(event, Failed):
            job.update(state=_FAILED_STATES.get(event.state, "failed"), accepted=event.accepted,
                       message=event.error.human(), remote_id=event.remote_id or job.get("remote_id"))

    def hint(self, event: Failed) -> str:
        """What running the same command again will do, after a failure (one line, always true)."""
        job = self.job
        name = job.path
        if job.get("remote_id"):
            return f"note: {name} keeps the job id: run the same command again to poll and download it."
        if event.accepted is None:
            if job.get("idempotent"):
                return (f"note: run the same command again to resend it with the same key "
                        f"{job.get('client_key')} (never billed twice); {name} keeps what is needed.")
            return (f"note: {name} records this: running the same command again will not resend it. Move it "
                    "away only once you know no job was created, or to pay for a new one.")
        return ""

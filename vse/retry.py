"""What Retry does with a record, so that no retry pays twice (issue #13; docs/architecture.md "Money").

MAIN THREAD. One decision per record, from what the provider holds of it (vse/status.py
REMOTE_STATES), shared by Retry and Retry Failed Only:
- follow  the provider accepted the job (it has a remote id) and it failed here (a poll, the
          download, the placement): poll and download that same remote job again. Free.
- resend  nobody confirmed the submit and the provider de-duplicates submits (sync.so
          Idempotency-Key, Runware taskUUID): send it again under the SAME key, with the saved
          request and uploads when the record has them (the same bytes), so it is billed at most once.
- new     the provider refused or ended the job, nothing was sent, the job finished (a deliberate
          new roll), or a provider without idempotency never confirmed it: a new job with a new key.
Money may move for `resend` and `new`: both go through the budget cap like a submit, and the
operator asks first where the first attempt may already have been billed.
"""

from __future__ import annotations

from ..client.errors import LipsyncError, humanize
from ..preferences import provider_config
from . import compat, gate, identity, launch, money, reattach, recordcheck, snapshot

IDEMPOTENT_PROVIDERS = reattach.IDEMPOTENT_PROVIDERS


def kind(job) -> str:
    """"follow", "resend" or "new" for record `job` (see the module docstring)."""
    if job.status == "COMPLETED":
        return "new"
    if job.remote_id:
        return "new" if job.remote_state == "ENDED" or job.status == "REJECTED" else "follow"
    if job.remote_state in ("UNSURE", "SENDING") and job.provider in IDEMPOTENT_PROVIDERS:
        return "resend"
    return "new"


def may_be_billed_already(job) -> bool:
    """A new job now could be the second bill: the first submit was never confirmed either way."""
    return kind(job) == "new" and not job.remote_id and job.remote_state in ("UNSURE", "SENDING")


def over_budget(job) -> str:
    """The refusal when re-running `job` would exceed the preferences' budget cap, else ""."""
    cap = money.budget_cap()
    usd = max(0.0, float(job.estimate))
    if cap > 0 and usd > cap:
        return (f"the estimate ${usd:.2f} exceeds the budget cap ${cap:.2f} (add-on preferences); "
                "confirm to retry anyway")
    return ""


def retry(scene, job, *, confirmed: bool = False, use_cache: bool = True) -> launch.Launched:
    """Retry record `job` the way kind() says; refused (with the reason) rather than paying twice."""
    if not recordcheck.usable(job):       # from someone else's .blend, maybe: never sent as it is
        return launch.Launched().refuse(job.name, job.message)
    how = kind(job)
    if how == "follow":
        started = reattach.reattach_record(scene, job, manual=True)
        if started:
            return launch.Launched(job_ids=[job.job_id])
        return launch.Launched().refuse(job.name, job.message or "it could not be followed again")
    if not confirmed and over_budget(job):
        return launch.Launched().refuse(job.name, over_budget(job))
    if how == "new":
        return launch.rerun(scene, job, use_cache=use_cache)
    return _resend(scene, job)


def _resend(scene, job) -> launch.Launched:
    """The same record, the same key: its saved request and uploads where it has them, else the
    strips cut again (a different body: the provider then refuses the key rather than bill twice)."""
    why = gate.network_reason(job.provider) or ("" if gate.has_key(job.provider)
                                                else gate.missing_key_message(job.provider))
    if why:
        return launch.Launched().refuse(job.name, why)
    config = provider_config(job.provider)
    if job.request and job.uploaded:
        launch.start(job, None, config, uploaded=job.uploaded)
    else:
        try:
            launch.start(job, _strip_job(scene, job), config, use_cache=False)
        except LipsyncError as exc:
            return launch.Launched().refuse(job.name, humanize(exc))
    job.remote_state = "NONE"
    job.message = "Sent again with the same key (the provider bills it at most once)"
    return launch.Launched(job_ids=[job.job_id])


def _strip_job(scene, job):
    sed = scene.sequence_editor
    strips = compat.strips_all(sed) if sed else {}
    # the source by uid: it may have been renamed since (vse/identity.py)
    strip = identity.find_source(scene, job.placement.source_uid, job.source_strip)
    if strip is None:
        raise LipsyncError(f'the source strip "{job.source_strip}" is gone')
    sounds = [strips[n] for n in job.sound_strips if n in strips] or None
    return snapshot.snapshot_job(scene, strip, sounds)

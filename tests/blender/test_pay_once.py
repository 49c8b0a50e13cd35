"""Pay once, in Blender (issue #13): what Retry and a file load may do with money.

Against the sandbox over loopback, counting generations (paid jobs) per provider and key:
- the worker does not send the paid submit until the record holds it (client key, uploads, the
  request as sent); a record deleted before that is never paid for;
- a submit nobody confirmed is resent by Retry with the same key and the saved uploads, so the
  provider sees the same bytes and bills once (sync.so would answer IDEMPOTENCY_KEY_REUSED to a
  different body, and the sandbox does too);
- a job the provider accepted that failed here (the download) is collected again by Retry, free;
- a job the provider itself failed is re-run by Retry as a new job (new key);
- Retry goes through the budget cap like a submit.
"""

import time

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import MODEL_FOR, add_shot, takes, use_sandbox


def _gens(sandbox, provider) -> int:
    return sandbox.stats()["generations"].get(provider, 0)


def _submits(sandbox, provider) -> int:
    return sum(1 for r in sandbox.requests() if r.get("provider") == provider and r.get("op") == "submit")


def _drain_until(pred, seconds=20.0):
    apply = lipsync("vse.apply")
    end = time.monotonic() + seconds
    while not pred() and time.monotonic() < end:
        apply.drain(0.05)
        time.sleep(0.02)
    return pred()


def _submit(scene, provider):
    """The artist's Lip Sync on the active strip; a job that ends badly raises (its report)."""
    scene.lipsync.provider = provider
    scene.lipsync.model = MODEL_FOR[provider]
    try:
        bpy.ops.lipsync.submit()
    except RuntimeError:
        pass


def _launch(scene, provider):
    launch = lipsync("vse.launch")
    started = launch.launch(scene, launch.LaunchSpec(strip="shot", provider=provider, model=MODEL_FOR[provider],
                                                     options={}))
    assert started.job_ids, started.reasons()
    return started.job_ids[0]


@pytest.mark.parametrize("provider", ["sync", "wavespeed"])
def test_no_paid_submit_before_the_record_holds_it(addon, scene, online, clean_env, sandbox, tmp_path_factory,
                                                   provider):
    use_sandbox(clean_env, sandbox, provider)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    job_id = _launch(scene, provider)
    runtime = lipsync("worker.runtime").RUNTIME
    # nobody applies the worker's events for a while: it cuts and uploads, then waits
    end = time.monotonic() + 10
    while not sandbox.stats()["uploads"].get(provider) and time.monotonic() < end:
        time.sleep(0.05)
    time.sleep(1.0)
    assert sandbox.stats()["uploads"].get(provider), sandbox.stats()["uploads"]
    assert _gens(sandbox, provider) == 0 and runtime.is_active(job_id)
    assert _drain_until(lambda: not runtime.is_active(job_id))
    rec = lipsync("vse.records").find(job_id)[1]
    assert rec.status == "COMPLETED" and _gens(sandbox, provider) == 1, rec.message
    assert rec.uploaded and set(rec.uploaded) >= {"video"} and rec.request     # kept for a resubmit


def test_a_record_deleted_before_the_submit_is_never_paid_for(addon, scene, online, clean_env, sandbox,
                                                               tmp_path_factory, monkeypatch):
    use_sandbox(clean_env, sandbox, "wavespeed")
    monkeypatch.setattr(lipsync("worker.work"), "SAVE_DEADLINE", 1.0)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    job_id = _launch(scene, "wavespeed")
    scene.lipsync.jobs.remove(0)          # the artist deletes the record (or the file closes)
    runtime = lipsync("worker.runtime").RUNTIME
    assert _drain_until(lambda: not runtime.is_active(job_id), 30)
    time.sleep(0.3)
    assert _gens(sandbox, "wavespeed") == 0 and _submits(sandbox, "wavespeed") == 0


@pytest.mark.parametrize("provider", ["sync", "runware"])
def test_unconfirmed_submit_is_resent_with_the_same_bytes(addon, scene, online, clean_env, sandbox,
                                                          tmp_path_factory, provider):
    use_sandbox(clean_env, sandbox, provider)
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    # the provider creates the job, and every answer to the submit (and its resends) is lost
    sandbox.arm(provider, "reset_after", count=50, on="submit")
    _submit(scene, provider)
    [rec] = scene.lipsync.jobs
    assert rec.status == "UNKNOWN" and not rec.remote_id, (rec.status, rec.message)
    job = lipsync("vse.records").find(rec.job_id)[1]
    assert job.remote_state == "UNSURE" and job.uploaded and job.request
    key, uploads = job.client_key, dict(sandbox.stats()["uploads"])
    assert _gens(sandbox, provider) == 1                      # the first submit did arrive
    assert lipsync("vse.retry").kind(job) == "resend"
    sandbox.disarm(provider)
    lipsync("client.uploads").DEFAULT_CACHE.clear()    # a new session: nothing remembered but the record

    assert bpy.ops.lipsync.retry(job_id=job.job_id) == {"FINISHED"}
    job = lipsync("vse.records").find(rec.job_id)[1]
    assert job.status == "COMPLETED", job.message
    assert sandbox.stats()["generations_by_key"][provider] == {key: 1}   # billed once
    assert dict(sandbox.stats()["uploads"]) == uploads                    # nothing uploaded again
    assert len(takes(scene)) == 1 and len(scene.lipsync.jobs) == 1


def test_retry_collects_an_accepted_job_that_failed_here(addon, scene, online, clean_env, sandbox,
                                                         tmp_path_factory):
    use_sandbox(clean_env, sandbox, "wavespeed")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    sandbox.arm("wavespeed", "truncated_download", count=50, on="download")
    _submit(scene, "wavespeed")
    [rec] = scene.lipsync.jobs
    job = lipsync("vse.records").find(rec.job_id)[1]
    assert job.status == "FAILED" and job.remote_id and job.remote_state == "HELD", job.message
    assert lipsync("vse.retry").kind(job) == "follow"
    sandbox.disarm("wavespeed")
    assert bpy.ops.lipsync.retry_failed() == {"FINISHED"}
    job = lipsync("vse.records").find(rec.job_id)[1]
    assert job.status == "COMPLETED" and _gens(sandbox, "wavespeed") == 1, job.message   # no second bill
    assert len(scene.lipsync.jobs) == 1 and len(takes(scene)) == 1


def test_retry_of_a_job_the_provider_failed_is_a_new_job(addon, scene, online, clean_env, sandbox,
                                                         tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    sandbox.arm("sync", "job_failed", count=1, on="submit", code="generation_unsafe", message="face not found")
    _submit(scene, "sync")
    job = lipsync("vse.records").find(scene.lipsync.jobs[0].job_id)[1]
    assert job.status == "FAILED" and job.remote_state == "ENDED" and lipsync("vse.retry").kind(job) == "new"
    assert bpy.ops.lipsync.retry(job_id=job.job_id) == {"FINISHED"}
    assert len(scene.lipsync.jobs) == 2 and scene.lipsync.jobs[1].client_key != job.client_key
    assert scene.lipsync.jobs[1].status == "COMPLETED" and _gens(sandbox, "sync") == 2


def test_retry_respects_the_budget_cap(addon, scene, online, clean_env, sandbox, tmp_path_factory, addon_prefs):
    use_sandbox(clean_env, sandbox, "sync")
    add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    sandbox.arm("sync", "job_failed", count=1, on="submit", code="generation_unsafe", message="face not found")
    _submit(scene, "sync")
    [rec] = scene.lipsync.jobs
    assert rec.status == "FAILED" and rec.estimate > 0, (rec.status, rec.estimate)
    addon_prefs.budget_cap_usd = rec.estimate / 2
    before = len(sandbox.requests())
    with pytest.raises(RuntimeError, match="exceeds the budget cap"):
        bpy.ops.lipsync.retry(job_id=rec.job_id)
    with pytest.raises(RuntimeError, match="exceeds the budget cap"):
        bpy.ops.lipsync.retry_failed()
    assert len(sandbox.requests()) == before and len(scene.lipsync.jobs) == 1      # nothing sent
    assert bpy.ops.lipsync.retry(job_id=rec.job_id, confirm_budget=True) == {"FINISHED"}
    assert scene.lipsync.jobs[-1].status == "COMPLETED" and _gens(sandbox, "sync") == 2

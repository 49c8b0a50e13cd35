"""Nothing is paid twice: sync Idempotency-Key, Runware taskUUID, and per-key concurrency caps."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

from tests.sandbox.test_sb_faults import PROVIDERS, error_shape_ok


def test_sync_same_key_same_body_is_one_generation(sandbox, driver, media):
    d = driver("sync")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    key = str(uuid.uuid4())
    first = d.submit(v, a, headers={"Idempotency-Key": key})
    again = d.submit(v, a, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    stats = sandbox.stats()
    assert stats["generations"]["sync"] == 1 and stats["generations_by_key"]["sync"] == {key: 1}
    other = d.submit(v, a, sync_mode="loop", headers={"Idempotency-Key": key})
    assert other.status_code == 422 and other.json()["errorCode"] == "IDEMPOTENCY_KEY_REUSED"
    assert sandbox.stats()["generations"]["sync"] == 1


def test_sync_retry_after_reset_reuses_generation(sandbox, driver, media):
    d = driver("sync")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    sandbox.arm("sync", "reset_after", on="submit")
    with pytest.raises(httpx.TransportError):
        d.submit(v, a, headers={"Idempotency-Key": "retry-1"})
    r = d.submit(v, a, headers={"Idempotency-Key": "retry-1"})
    assert r.status_code == 201
    assert sandbox.stats()["generations_by_key"]["sync"] == {"retry-1": 1}
    assert d.wait(r.json()["id"])[0] == "completed"


def test_sync_concurrent_same_key_races_to_one_generation(sandbox, driver, media):
    d = driver("sync")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    ids, errors = [], []

    def go():
        try:
            with httpx.Client(timeout=10) as c:
                r = c.post(f"{d.base}/v2/generate", headers={**d.h, "Idempotency-Key": "race"},
                           json=d.body(v, a))
                ids.append(r.json()["id"])
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1
    assert sandbox.stats()["generations"]["sync"] == 1


def test_runware_duplicate_task_uuid_conflicts(sandbox, driver, media):
    d = driver("runware")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    task_uuid = str(uuid.uuid4())
    sandbox.arm("runware", "reset_after", on="submit")
    with pytest.raises(httpx.TransportError):
        d.submit(v, a, task_uuid=task_uuid)
    r = d.submit(v, a, task_uuid=task_uuid)
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["code"] == "conflictTaskUUID" and err["taskUUID"] == task_uuid
    # the old SDK's answer to a conflict: poll the UUID (§2.6)
    assert d.wait(task_uuid)[0] == "completed"
    assert sandbox.stats()["generations_by_key"]["runware"] == {task_uuid: 1}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_concurrency_cap_gives_429_with_retry_after(sandbox, driver, media, provider):
    sandbox.configure(provider, concurrency=1, processing_seconds=0.6, retry_after=4)
    d = driver(provider)
    v, a = d.upload(media["video"]), d.upload(media["short"])
    first = d.submit(v, a)
    assert first.status_code in (200, 201)
    r = d.submit(v, a)
    assert r.status_code == 429 and r.headers["Retry-After"] == "4"
    assert error_shape_ok(provider, 429, r.json()), r.text
    if provider == "sync":
        assert r.json()["errorCode"] == "concurrency_limit_reached"
    other_key = sandbox.state.keys  # the cap is per API key
    assert "sandbox-key" in other_key
    assert d.wait(d.job_id(first))[0] == "completed"
    assert d.submit(v, a).status_code in (200, 201)  # slot freed once the first job ended
    stats = sandbox.stats()
    assert stats["generations"][provider] == 2 and stats["max_concurrent"][provider] == 1


def test_concurrent_submits_respect_cap(sandbox, driver, media):
    sandbox.configure("foxapi", concurrency=2, processing_seconds=5.0)
    d = driver("foxapi")
    v, a = d.upload(media["video"]), d.upload(media["short"])
    codes = []

    def go():
        with httpx.Client(timeout=10) as c:
            codes.append(c.post(f"{d.base}/v1/videos/generations", headers=d.h,
                                json={"video_url": v, "audio_url": a}).status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 429, 429, 429, 429]
    assert sandbox.stats()["max_concurrent"]["foxapi"] == 2

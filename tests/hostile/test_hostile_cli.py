"""`python -m client run` keeps the pay-once promise: a job file beside --out, SIGKILL at the worst
moments and a rerun that resumes instead of paying again, --out written exactly, bad inputs
refused before any upload. The CLI runs as a real subprocess; the proxy counts what it sends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from client.config import ENV_KEYS, PROVIDERS, base_url_env
from tests.hostile import proxy as hp
from tests.hostile.kit import IDEMPOTENT, LEAK_KEY, MODEL, submit_key

ROOT = Path(__file__).resolve().parents[2]


def _env(hostile, provider, **extra) -> dict:
    env = dict(os.environ, **{ENV_KEYS[provider]: LEAK_KEY, base_url_env(provider): hostile.base_url(provider)})
    env.update(extra)
    return env


def _args(provider, media, out, *more) -> list[str]:
    return [sys.executable, "-m", "client", "run", "--provider", provider, "--model", MODEL[provider],
            "--video", media["video"], "--audio", media["audio"], "--out", str(out), "--poll-interval", "0.02",
            *more]


def _run(hostile, provider, media, out, *more, **env):
    return subprocess.run(_args(provider, media, out, *more), cwd=ROOT, env=_env(hostile, provider, **env),
                          capture_output=True, text=True, timeout=120)


def _job_file(out: Path) -> dict:
    return json.loads(out.with_name(out.name + ".lipsync-job.json").read_text())


def _kill_when(hostile, provider, media, out, ready) -> dict:
    """Start the CLI, SIGKILL it as soon as `ready()` holds; the job file it left behind."""
    proc = subprocess.Popen(_args(provider, media, out), cwd=ROOT, env=_env(hostile, provider),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the moment to kill never came"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return _job_file(out)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sigkill_while_polling_then_rerun_resumes_without_paying(hostile, media, tmp_path, provider):
    hostile.add(hp.Rule(provider, "poll", hp.stall(60), count=1, name="held poll"))
    out = tmp_path / "take.mp4"
    saved = _kill_when(hostile, provider, media, out, lambda: bool(hostile.requests(provider, "poll")))
    assert saved["remote_id"] and saved["state"] in ("submitted", "processing")
    assert LEAK_KEY.lower() not in json.dumps(saved).lower()
    uploads = len(hostile.requests(provider, "upload"))
    proc = _run(hostile, provider, media, out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out) and out.is_file()
    assert "resuming job" in proc.stderr
    assert len(hostile.requests(provider, "submit")) == 1
    assert len(hostile.requests(provider, "upload")) == uploads  # the rerun uploaded nothing
    assert _job_file(out)["state"] == "completed"
    # and once more: done, nothing sent at all
    before = len(hostile.requests())
    again = _run(hostile, provider, media, out)
    assert again.returncode == 0 and "already done" in again.stderr and len(hostile.requests()) == before


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sigkill_while_the_submit_is_answered(hostile, media, tmp_path, provider):
    """The worst moment: the provider has the submit, the answer never reached the CLI."""
    hostile.add(hp.Rule(provider, "submit", hp.stall(60), count=1, name="held submit"))
    out = tmp_path / "take.mp4"
    saved = _kill_when(hostile, provider, media, out, lambda: bool(hostile.paid_posts(provider)))
    assert saved["state"] == "submitting" and not saved["remote_id"] and saved["refs"]
    uploads = len(hostile.requests(provider, "upload"))
    proc = _run(hostile, provider, media, out)
    submits = hostile.requests(provider, "submit")
    assert len(hostile.requests(provider, "upload")) == uploads  # nothing uploaded again
    hostile.sandbox.wait_idle(5.0)
    assert hostile.sandbox.stats()["generations"].get(provider, 0) == 1
    if provider in IDEMPOTENT:
        assert proc.returncode == 0, proc.stderr
        assert "same idempotency key" in proc.stderr and out.is_file()
        assert len(submits) == 2 and len({s.body for s in submits}) == 1
        assert {submit_key(s) for s in submits} == {saved["client_key"]}
    else:
        assert proc.returncode == 3, proc.stderr
        assert len(submits) == 1 and not out.exists()
        line = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert len(line) == 1 and "not sent again" in line[0] and ".lipsync-job.json" in line[0]
        assert "re-attach" not in proc.stderr.lower()
        # asking again changes nothing
        assert _run(hostile, provider, media, out).returncode == 3
        assert len(hostile.requests(provider, "submit")) == 1


@pytest.mark.parametrize("provider", ["sync", "wavespeed"])
def test_crash_right_after_acceptance(hostile, media, tmp_path, provider):
    # LIPSYNC_TEST_CRASH_AT=submitted: the process dies (exit 137) between the provider's answer
    # and anyone hearing of it (client/testhooks.py)
    out = tmp_path / "take.mp4"
    crashed = _run(hostile, provider, media, out, LIPSYNC_TEST_CRASH_AT="submitted")
    assert crashed.returncode == 137
    key = crashed.stderr.split("client key ")[1].split(")")[0]
    assert _job_file(out)["client_key"] == key and _job_file(out)["state"] == "submitting"
    proc = _run(hostile, provider, media, out)
    assert proc.returncode == (0 if provider in IDEMPOTENT else 3), proc.stderr
    assert len(hostile.paid_posts(provider)) == (2 if provider in IDEMPOTENT else 1)
    hostile.sandbox.wait_idle(5.0)
    assert hostile.sandbox.stats()["generations"][provider] == 1


def test_the_job_file_exists_before_any_upload_and_prints_the_key(hostile, media, tmp_path):
    out = tmp_path / "take.mp4"
    proc = _run(hostile, "fal", media, out, LIPSYNC_TEST_CRASH_AT="started")
    assert proc.returncode == 137
    assert not hostile.requests()  # nothing was sent
    saved = _job_file(out)
    assert saved["state"] == "new" and saved["client_key"] in proc.stderr
    assert saved["provider"] == "fal" and saved["request_json"]


def test_out_is_written_exactly_and_nothing_else_is_touched(hostile, media, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    precious = folder / "take.mp4"
    precious.write_bytes(b"the artist's own take")
    out = folder / "take.mov"
    proc = _run(hostile, "sync", media, out)
    assert proc.returncode == 0, proc.stderr
    assert precious.read_bytes() == b"the artist's own take"
    assert sorted(p.name for p in folder.iterdir()) == ["take.mov", "take.mov.lipsync-job.json", "take.mp4"]
    assert out.read_bytes()[4:8] == b"ftyp"


def _bad_inputs(media, tmp_path) -> dict:
    good = Path(media["video"]).read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "half.mp4").write_bytes(good[: len(good) // 2])
    (tmp_path / "notes.mp4").write_text("this is not a video\n")
    (tmp_path / "notes.wav").write_text("RIFF? no.\n")
    (tmp_path / "folder.mp4").mkdir()
    os.symlink(tmp_path / "gone.mp4", tmp_path / "dangling.mp4")
    return {"empty video": ("video", "empty.mp4", "empty"), "truncated video": ("video", "half.mp4", "truncated"),
            "text as video": ("video", "notes.mp4", "not a video"), "text as audio": ("audio", "notes.wav", "not a"),
            "a folder": ("video", "folder.mp4", "folder"), "a dangling link": ("video", "dangling.mp4", "not found")}


@pytest.mark.parametrize("provider", ["sync", "runware", "fal"])
def test_bad_inputs_are_refused_before_any_upload(hostile, media, tmp_path, provider):
    for name, (kind, file, words) in _bad_inputs(media, tmp_path).items():
        given = dict(media, **{kind: str(tmp_path / file)})
        out = tmp_path / f"out-{file}.mp4"
        proc = _run(hostile, provider, given, out)
        assert proc.returncode != 0, name
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1 and words in errors[0], (name, proc.stderr)
        assert not hostile.requests(), (name, [s.path for s in hostile.requests()])

"""`python -m client run` end to end against the sandbox, for every provider x model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client import cli
from client.capabilities import default_sync_mode, models_for
from client.config import ENV_KEYS, PROVIDERS, base_url_env
from client.media_info import duration
from tests.fixtures.sandbox import SANDBOX_KEY

from tests.client.jobkit import AUDIO_SECONDS, VIDEO_SECONDS

PAIRS = [(p, m) for p in PROVIDERS for m in models_for(p)]
ROOT = Path(__file__).resolve().parents[2]


def _env(monkeypatch, sandbox, provider, key=SANDBOX_KEY):
    monkeypatch.setenv(ENV_KEYS[provider], key)
    monkeypatch.setenv(base_url_env(provider), sandbox.base_url(provider))


@pytest.mark.parametrize("provider,model", PAIRS)
def test_run_every_provider_and_model(sandbox, media, tmp_path, monkeypatch, capsys, provider, model):
    _env(monkeypatch, sandbox, provider)
    out = tmp_path / "take.mp4"
    code = cli.main(["run", "--provider", provider, "--model", model, "--video", media["video"],
                     "--audio", media["audio"], "--out", str(out), "--json", "--poll-interval", "0.02"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert [e["event"] for e in lines][-1] == "completed"
    assert {"uploaded", "submitted", "status"} <= {e["event"] for e in lines}
    assert out.is_file() and out.stat().st_size > 1000
    mode = default_sync_mode(provider, model)
    expected = min(VIDEO_SECONDS, AUDIO_SECONDS) if mode == "cut_off" else AUDIO_SECONDS
    assert duration(out) == pytest.approx(expected, abs=0.15)

    stats = sandbox.stats()
    assert stats["generations"][provider] == 1
    (job,) = [j for j in stats["jobs"] if j["provider"] == provider]
    assert job["model"] == model and job["sync_mode"] == mode
    assert job["inputs"]["video"]["duration"] == pytest.approx(VIDEO_SECONDS, abs=0.05)
    assert stats["uploads"][provider] >= 2


def test_run_options_reach_sync(sandbox, media, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sandbox, "sync")
    out = tmp_path / "o.mp4"
    code = cli.main(["run", "--provider", "sync", "--model", "lipsync-2", "--video", media["video"],
                     "--audio", media["audio"], "--out", str(out), "--sync-mode", "silence",
                     "--temperature", "0.3", "--speaker-point", "2,80,60", "--occlusion",
                     "--poll-interval", "0.02"])
    assert code == 0, capsys.readouterr().err
    assert capsys.readouterr().out.strip() == "" or out.is_file()
    (job,) = sandbox.stats()["jobs"]
    assert job["sync_mode"] == "silence"
    assert job["options"]["temperature"] == 0.3 and job["options"]["occlusion_detection_enabled"] is True
    assert duration(out) == pytest.approx(VIDEO_SECONDS, abs=0.15)


def test_run_segments_file(sandbox, media, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sandbox, "sync")
    seg = tmp_path / "segments.json"
    seg.write_text(json.dumps([
        {"start": 0.0, "end": 0.5, "audio": media["audio"], "audio_start": 0.0, "audio_end": 0.5},
        {"start": 0.5, "end": 1.0, "audio": media["audio2"]},
    ]))
    out = tmp_path / "seg.mp4"
    code = cli.main(["run", "--provider", "sync", "--model", "lipsync-2", "--video", media["video"],
                     "--segments", str(seg), "--out", str(out), "--poll-interval", "0.02"])
    assert code == 0, capsys.readouterr().err
    (job,) = sandbox.stats()["jobs"]
    assert len(job["segments"]) == 2
    assert out.is_file()


def test_cli_subprocess_errors_are_one_line_and_keyless(sandbox, media, tmp_path):
    env = dict(os.environ, FAL_KEY="sk-LEAKCHECK-123", LIPSYNC_FAL_BASE_URL=sandbox.base_url("fal"))
    out = tmp_path / "x.mp4"
    proc = subprocess.run([sys.executable, "-m", "client", "run", "--provider", "fal", "--model", "lipsync-2",
                           "--video", media["video"], "--audio", media["audio"], "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and not out.exists()
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "error: fal: " in errors[0] and "API key" in errors[0]
    assert "LEAKCHECK" not in proc.stdout + proc.stderr

    proc = subprocess.run([sys.executable, "-m", "client", "run", "--provider", "foxapi", "--model", "sync-3",
                           "--video", media["video"], "--audio", media["audio"], "--out", str(out),
                           "--temperature", "0.5"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: FoxAPI: temperature is not supported by sync-3 on FoxAPI: "
        "FoxAPI takes temperature only for lipsync-2 and lipsync-2-pro (docs/providers.md §4.2).")


def test_estimate_and_providers(media, capsys):
    assert cli.main(["estimate", "--provider", "runware", "--model", "lipsync-2", "--video", media["video"],
                     "--audio", media["audio"], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["usd"] == pytest.approx(0.044 * AUDIO_SECONDS, abs=0.002)
    assert cli.main(["providers", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {(r["provider"], r["model"]) for r in rows} == set(PAIRS)


def test_python_m_client_run_succeeds(sandbox, media, tmp_path):
    env = dict(os.environ, WAVESPEED_API_KEY=SANDBOX_KEY)
    out = tmp_path / "deep" / "take.mp4"
    proc = subprocess.run([sys.executable, "-m", "client", "run", "--provider", "wavespeed", "--model", "sync-3",
                           "--video", media["video"], "--audio", media["audio"], "--out", str(out),
                           "--base-url", sandbox.base_url("wavespeed"), "--sync-mode", "loop",
                           "--poll-interval", "0.05"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out) and out.is_file()
    assert "status:" in proc.stderr  # human progress goes to stderr
    assert duration(out) == pytest.approx(AUDIO_SECONDS, abs=0.15)


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--provider", "sync", "--model", "lipsync-9"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: argument --model")

"""A provider that echoes the API key back — in an error, a code, a status, a queue position, a job
id — in any letter case or URL-encoded: the key never reaches an event, a log line, --json, a job
file. And --json is strict JSON whatever numbers the provider sends."""

from __future__ import annotations

import json
import logging
import urllib.parse

import pytest

from client import cli
from client.config import ENV_KEYS, PROVIDERS, base_url_env
from client.events import Failed, Status, event_to_dict
from tests.hostile import proxy as hp
from tests.hostile.kit import LEAK_KEY, MODEL, NOT_IDEMPOTENT, end_state, record_max, request, run

def leaks(text: str) -> int:
    """Copies of the key in `text`, in any case, raw or URL-encoded."""
    low = text.lower()
    return low.count(LEAK_KEY.lower()) + low.count(urllib.parse.quote(LEAK_KEY, safe="").lower())


def _texts(events) -> str:
    parts = []
    for e in events:
        parts += [repr(e), json.dumps(event_to_dict(e))]
        if isinstance(e, Failed):
            parts += [e.error.human(), repr(e.error), str(e.error.args), str(getattr(e.error, "code", ""))]
    return "\n".join(parts)


RUNNING = {"PENDING", "PROCESSING", "processing", "pending", "queued", "created", "IN_QUEUE", "IN_PROGRESS"}


def _status_echo(provider: str):
    """Plant a spelling of the key where each provider's poll answer carries text we show, while
    the job runs (a finished job's answer stays as it is, or the job would never end)."""
    def plant(data, key):
        spelled = key.lower()
        if provider == "sync" and data.get("status") in RUNNING:
            data["status"] = f"PROCESSING {spelled}"
        elif provider == "runware":
            for item in data.get("data") or []:
                if item.get("status") in RUNNING:
                    item["status"] = f"processing {spelled}"
        elif provider == "wavespeed" and data["data"].get("status") in RUNNING:
            data["data"]["status"] = f"processing {spelled}"
        elif provider == "foxapi" and data.get("status") in RUNNING:
            data["status"] = f"processing {spelled}"
        elif provider == "fal" and data.get("status") in RUNNING:
            data["status"], data["queue_position"] = "IN_QUEUE", f"{spelled}"
        return data
    return plant


@pytest.mark.parametrize("provider", PROVIDERS)
def test_key_in_poll_status_text_is_scrubbed(hostile, media, tmp_path, caplog, provider):
    caplog.set_level(logging.DEBUG)
    # long enough that a poll (sync.so's long-poll holds 1 s here) sees the job running
    hostile.sandbox.configure(processing_seconds=1.5)
    hostile.add(hp.Rule(provider, "poll", hp.echo_key(_status_echo(provider)), count=1000, name="echo"))
    events = run(hostile, request(provider, media), tmp_path)
    assert end_state(events) == "COMPLETED", events[-1]
    assert any(s.rule == "echo" for s in hostile.requests(provider, "poll"))
    # the echo reached the client (so this test can fail) and came out scrubbed
    statuses = [e for e in events if isinstance(e, Status)]
    assert any("***" in e.message for e in statuses), statuses
    found = leaks(_texts(events) + caplog.text)
    record_max("keys found in events/logs/--json (any case, URL-encoded)", found, "{:.0f}")
    assert found == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_key_in_the_providers_error_code_and_message_is_scrubbed(hostile, media, tmp_path, caplog, provider):
    caplog.set_level(logging.DEBUG)
    hostile.sandbox.arm(provider, "job_failed", code=f"E-{LEAK_KEY.upper()}",
                        message=f"bad input for key {LEAK_KEY.lower()} ({urllib.parse.quote(LEAK_KEY)})")
    events = run(hostile, request(provider, media), tmp_path)
    last = events[-1]
    assert isinstance(last, Failed) and last.state.value == "FAILED" and last.accepted is True
    assert "***" in last.error.human()
    found = leaks(_texts(events) + caplog.text)
    record_max("keys found in events/logs/--json (any case, URL-encoded)", found, "{:.0f}")
    assert found == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refusal_that_quotes_the_key_is_scrubbed(hostile, media, tmp_path, caplog, provider):
    caplog.set_level(logging.DEBUG)
    body = json.dumps({"statusCode": 401, "errorCode": "unauthorized", "message": f"invalid key {LEAK_KEY.lower()}",
                       "errors": [{"code": "invalidApiKey", "message": f"invalid key {LEAK_KEY.upper()}"}],
                       "code": 401, "data": None, "error": {"code": 401, "message": f"key {LEAK_KEY}"},
                       "detail": f"key {LEAK_KEY.swapcase()}"}).encode()
    hostile.add(hp.Rule(provider, "upload", hp.garbage(body, status=401), forward=False, count=10, name="401"))
    events = run(hostile, request(provider, media), tmp_path)
    assert isinstance(events[-1], Failed) and events[-1].accepted is False
    assert leaks(_texts(events) + caplog.text) == 0


def _id_echo(provider: str):
    def plant(data, key):
        if provider == "sync":
            data["id"] = key
        elif provider == "wavespeed":
            data["data"]["id"] = f"pred-{key.lower()}"
        elif provider == "foxapi":
            data["id"] = f"task-unified-{key}"
        elif provider == "fal":
            data["request_id"] = key.upper()
        return data
    return plant


@pytest.mark.parametrize("provider", ["sync", "wavespeed", "foxapi", "fal"])
def test_a_remote_id_that_contains_the_key_is_not_accepted(hostile, media, tmp_path, caplog, provider):
    caplog.set_level(logging.DEBUG)
    hostile.add(hp.Rule(provider, "submit", hp.echo_key(_id_echo(provider)), count=10, name="id echo"))
    events = run(hostile, request(provider, media), tmp_path)
    last = events[-1]
    assert isinstance(last, Failed) and last.state.value == "UNKNOWN" and last.remote_id is None, last
    assert "contains the API key" in last.error.message
    if provider in NOT_IDEMPOTENT:
        assert len(hostile.paid_posts(provider)) == 1
    assert leaks(_texts(events) + caplog.text) == 0


def _cli(monkeypatch, hostile, provider, out, *extra):
    monkeypatch.setenv(ENV_KEYS[provider], LEAK_KEY)
    monkeypatch.setenv(base_url_env(provider), hostile.base_url(provider))
    return cli.main(["run", "--provider", provider, "--model", MODEL[provider], "--video", extra[0],
                     "--audio", extra[1], "--out", str(out), "--poll-interval", "0.02", *extra[2:]])


def _strict(line: str):
    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")
    return json.loads(line, parse_constant=refuse)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cli_json_is_strict_and_keyless(hostile, media, tmp_path, monkeypatch, capsys, caplog, provider):
    caplog.set_level(logging.DEBUG)

    def nonsense(data, key):
        _status_echo(provider)(data, key)
        text = json.dumps(data)
        # numbers JSON cannot carry, where each provider puts progress or cost
        for field in ("progress", "cost", "outputDuration", "duration"):
            text = text.replace(f'"{field}": ', f'"{field}": "NaN", "x_{field}": ')
        return json.loads(text)

    hostile.sandbox.configure(processing_seconds=1.5)
    hostile.add(hp.Rule(provider, "poll", hp.echo_key(nonsense), count=1000, name="nonsense"))
    out = tmp_path / "take.mp4"
    code = _cli(monkeypatch, hostile, provider, out, media["video"], media["audio"], "--json")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = [_strict(line) for line in captured.out.splitlines()]
    assert lines[0]["event"] == "job" and lines[-1]["event"] == "completed"
    assert "***" in captured.out  # the echo reached the output, scrubbed
    job_file = (tmp_path / "take.mp4.lipsync-job.json").read_text()
    _strict(job_file)
    found = leaks(captured.out + captured.err + caplog.text + job_file)
    record_max("keys found in events/logs/--json (any case, URL-encoded)", found, "{:.0f}")
    assert found == 0


def test_cli_json_turns_a_nan_cost_into_null(hostile, media, tmp_path, monkeypatch, capsys):
    def nan_cost(data, key):
        for item in data.get("data") or []:
            if "cost" in item:
                item["cost"] = float("nan")
        return data

    # json.dumps writes NaN for a float nan: the answer itself is not strict JSON
    hostile.add(hp.Rule("runware", "poll", hp.echo_key(nan_cost), count=1000, name="nan"))
    out = tmp_path / "take.mp4"
    assert _cli(monkeypatch, hostile, "runware", out, media["video"], media["audio"], "--json") == 0
    lines = [_strict(line) for line in capsys.readouterr().out.splitlines()]
    completed = lines[-1]
    assert completed["event"] == "completed" and completed["cost"] is None

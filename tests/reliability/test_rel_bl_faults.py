"""The fault matrix through Blender: every fault kind x every provider, on a real strip.

`lipsync.submit_selected` runs in background bpy (execute() blocks until the job ends) against the
sandbox with one fault armed. Whatever happens: the job record ends COMPLETED or FAILED / REJECTED
/ UNKNOWN with a one-line reason naming the provider; nothing but the operator's own summary
reaches the calling script (no traceback from a worker or from applying events); the sandbox saw
at most one generation; only a whole result becomes a take; the source strips are untouched.
"""

from __future__ import annotations

import hashlib
import logging
import os

import bpy
import httpx
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.faults import (ALL_KINDS, IDEMPOTENT, LABELS, PROVIDERS, READ_TIMEOUT, REQUEST_KINDS, SLOW_SECONDS,
                      expected_states, fault_params, reason_words)
from tests.fixtures.workflow import MODEL_FOR, VISIBLE, add_shot, takes, timing, use_sandbox, visible


def strip_state(strip) -> dict:
    """What an artist would notice changing on a strip."""
    keys = ("name", "channel", "mute", "filepath", "volume", "blend_type", "blend_alpha")
    state = {k: getattr(strip, k) for k in keys if hasattr(strip, k)}
    # a source plays muted under its take (docs/architecture.md "Takes"): only the add-on's own
    # mute, flagged as such, is allowed; the artist's mute must be as it was
    state["mute"] = strip.mute and not strip.lipsync.muted_by_take
    for k in ("frame_offset_start", "frame_offset_end", "frame_start"):
        state[k] = timing(strip, k)
    state["range"] = visible(strip)
    if hasattr(strip, "transform"):
        t = strip.transform
        state["transform"] = (t.scale_x, t.scale_y, t.offset_x, t.offset_y, t.rotation)
    return state


def scene_strips(scene) -> dict:
    sed = scene.sequence_editor
    all_strips = sed.strips_all if hasattr(sed, "strips_all") else sed.sequences_all
    return {s.name: strip_state(s) for s in all_strips}


@pytest.fixture
def fast_retries(addon, monkeypatch):
    """Backoff pauses of a few ms (the real ones are 0.5-10 s): the retry logic is unchanged."""
    transport = lipsync("client.transport")
    monkeypatch.setattr(transport.Http, "backoff", staticmethod(lambda attempt: 0.01))
    return transport


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bl_fault_media"))


def run_op(provider):
    """The operator as a script calls it: returns (result, summary text of an ERROR report)."""
    try:
        return bpy.ops.lipsync.submit_selected(provider=provider, model=MODEL_FOR[provider]), ""
    except RuntimeError as exc:      # background bpy raises the operator's ERROR report
        return {"ERROR_REPORT"}, str(exc)


def _cases():
    for provider in PROVIDERS:
        for kind in ALL_KINDS:
            yield pytest.param(provider, kind, "submit" if kind in REQUEST_KINDS else None, id=f"{provider}-{kind}")
        # the result link misbehaves: only a whole video may become a take
        for kind in REQUEST_KINDS:
            if kind != "slow":
                yield pytest.param(provider, kind, "download", id=f"{provider}-{kind}-download")


@pytest.mark.parametrize("provider,kind,on", list(_cases()))
def test_fault_matrix_in_blender(addon, scene, online, clean_env, sandbox, fast_retries, media, caplog,
                                 provider, kind, on):
    caplog.set_level(logging.DEBUG)
    use_sandbox(clean_env, sandbox, provider)
    if kind == "slow":
        clean_env.setattr(fast_retries, "default_timeout",
                          lambda: httpx.Timeout(connect=2.0, read=READ_TIMEOUT, write=5.0, pool=2.0))
    movie = add_shot(addon, scene, media)
    before = scene_strips(scene)
    sandbox.arm(provider, kind, count=1, on=on, **fault_params(kind, provider))

    result, report = run_op(provider)
    if kind == "slow":
        import time
        time.sleep(SLOW_SECONDS - READ_TIMEOUT + 0.25)   # the sandbox finishes the slow request
    sandbox.wait_idle(5.0)
    stats = sandbox.stats()

    assert any(f["kind"] == kind for f in stats["faults_fired"]), "the fault never fired"
    [rec] = scene.lipsync.jobs
    want = expected_states(kind, on or "default", provider)
    assert rec.status in want, (rec.status, rec.message)
    # nothing escaped: the operator finished (or reported its one-line summary as an ERROR)
    # nothing escaped: no worker error, no failed placement, no traceback in any log line
    escaped = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not escaped, [r.getMessage() for r in escaped]
    assert "Traceback" not in caplog.text
    if result == {"ERROR_REPORT"}:
        assert rec.status != "COMPLETED" and "0 done" in report and LABELS[provider] in report, report
        assert "Traceback" not in report
    else:
        assert result == {"FINISHED"}
    # one generation at most, and exactly the recorded key's
    assert stats["generations"][provider] <= 1, stats["generations"]
    if provider in IDEMPOTENT:
        assert set(stats["generations_by_key"][provider]) <= {rec.client_key}
    out_dir = bpy.path.abspath(rec.out_dir)
    leftovers = [f for f in os.listdir(out_dir) if f.startswith(rec.out_stem)] if os.path.isdir(out_dir) else []
    found = takes(scene)
    if rec.status == "COMPLETED":
        assert stats["generations"][provider] == 1
        [take] = found
        assert visible(take) == VISIBLE and take.lipsync.job_id == rec.job_id
        path = bpy.path.abspath(take.filepath)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        with sandbox.state.lock:
            assert digest in {f.sha256 for f in sandbox.state.files.values() if f.job_id}
        assert leftovers == [os.path.basename(path)], leftovers
    else:
        assert found == [] and leftovers == [], leftovers    # no partial result, no strip
        assert "\n" not in rec.message and LABELS[provider] in rec.message, rec.message
        for word in reason_words(kind):
            assert word in rec.message, rec.message
        if kind in ("job_failed", "job_rejected"):
            assert fault_params(kind, provider)["code"] in rec.message, rec.message
    # the source strips are exactly as they were (takes are new strips)
    after = scene_strips(scene)
    for name, state in before.items():
        assert after[name] == state, name
    assert set(after) - set(before) == {t.name for t in found}
    assert movie.name == "shot"

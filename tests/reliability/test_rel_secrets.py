"""Secrets and trust (issue #6).

- A known key (one from the environment, one from the preferences) never appears in a saved .blend,
  a log line (every logger at DEBUG), an operator report, a job record, an exception text or a
  formatted traceback — also when the provider echoes it back in an error body.
- TLS verification is never disabled; results download only from https (http only on loopback),
  never with the key, capped in size, and a server-provided name never becomes a path.
- A .blend from someone else cannot make the add-on send a key anywhere but the configured host:
  tampered remote ids and resume data are refused or ignored, a trap server receives nothing.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
import ssl
import sys
import time

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.fixtures.faults import PROVIDERS
from tests.reliability.trapkit import Recorder
from tests.fixtures.workflow import MODEL_FOR, add_shot, record_job, takes

ENV_KEY = "sk-REL-ENV-7f3a9c1e5b"
PREF_KEY = "sk-REL-PREF-2d8e4b6a0c"
KEYS = (ENV_KEY, PREF_KEY)
ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def leak_sandbox():
    from sandbox import Sandbox
    sb = Sandbox(port=0, queue_seconds=0.0, processing_seconds=0.05, keys=KEYS)
    sb.start()
    yield sb
    sb.stop()


def _assert_keyless(text: str, where: str) -> None:
    for key in KEYS:
        assert key not in text, f"key leaked into {where}"
        assert key.encode("utf-16-le").decode("latin-1") not in text, f"key (utf-16) leaked into {where}"


def _video_bytes() -> bytes:
    from tests.media_fixtures import make_test_video
    import tempfile
    path = os.path.join(tempfile.mkdtemp(prefix="rel_trap_"), "out.mp4")
    return pathlib.Path(make_test_video(path, 0.4)).read_bytes()


# -- TLS, URLs, file names: the client's own guarantees -----------------------------------------------
def test_tls_verification_is_never_disabled():
    from client.transport import Http
    with Http("sync") as http:
        ctx = http.client._transport._pool._ssl_context
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    shipped = [p for d in ("client", "worker", "vse", "operators", "panels") for p in (ROOT / d).rglob("*.py")]
    shipped += [ROOT / "__init__.py", ROOT / "preferences.py", ROOT / "props.py"]
    for path in shipped:
        text = path.read_text("utf-8")
        for needle in ("verify=False", "CERT_NONE", "_create_unverified_context", "check_hostname = False",
                       "check_hostname=False", "PYTHONHTTPSVERIFY"):
            assert needle not in text, f"{needle} in {path.relative_to(ROOT)}"


def _resume(fake_url, out_dir, caplog=None, key=ENV_KEY):
    from client.config import ProviderConfig
    from client.jobs import RemoteRef, iter_job_events
    from client.models import AudioInput, JobRequest
    req = JobRequest(provider="sync", model="lipsync-2", video="v.mp4", audio=[AudioInput(id="a1", path="a.mp3")])
    events = list(iter_job_events(req, ProviderConfig("sync", key, fake_url), out_dir,
                                  resume=RemoteRef("gen-1"), poll_interval=0.01, sleep=lambda s: None))
    return events[-1]


def test_output_link_elsewhere_gets_no_key_and_no_name_from_the_server(tmp_path):
    """The provider's answer points the download at another host (a CDN): it gets a plain GET
    without the key; its path and Content-Disposition never choose where the file lands."""
    from client.events import Completed
    video = _video_bytes()
    with Recorder() as cdn:
        cdn.routes["/*"] = (200, {"Content-Type": "video/mp4",
                                        "Content-Disposition": 'attachment; filename="../../evil.sh"'}, video)
        out_url = cdn.url + "/files/..%2F..%2Fescape/../../evil.sh"
        with Recorder({"/v2/generate/gen-1": (200, {"Content-Type": "application/json"},
                                              {"id": "gen-1", "status": "COMPLETED", "outputUrl": out_url})}) as api:
            end = _resume(api.url, tmp_path / "out")
        assert isinstance(end, Completed), end
        assert [os.path.basename(p) for p in end.outputs] == ["lipsync.mp4"]
        assert sorted(os.listdir(tmp_path)) == ["out"] and os.listdir(tmp_path / "out") == ["lipsync.mp4"]
        assert api.requests and all(r["headers"].get("x-api-key") == ENV_KEY for r in api.requests)
        assert cdn.requests, "the output link was not fetched"
        _assert_keyless(cdn.seen(), "the request to the output host")


@pytest.mark.parametrize("link", ["http://203.0.113.9/out.mp4", "file:///etc/passwd", "ftp://127.0.0.1/out.mp4",
                                  "//evil.example/out.mp4"])
def test_output_link_must_be_https_or_loopback(tmp_path, link):
    from client.events import Failed
    with Recorder({"/v2/generate/gen-1": (200, {"Content-Type": "application/json"},
                                          {"id": "gen-1", "status": "COMPLETED", "outputUrl": link})}) as api:
        end = _resume(api.url, tmp_path / "out")
    assert isinstance(end, Failed) and "sync.so" in end.error.human(), end
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_redirect_off_https_is_refused(tmp_path):
    from client.events import Failed
    with Recorder() as cdn:
        cdn.routes["/r"] = (302, {"Location": "http://203.0.113.9/stolen.mp4"}, b"")
        with Recorder({"/v2/generate/gen-1": (200, {"Content-Type": "application/json"},
                                              {"id": "gen-1", "status": "COMPLETED",
                                               "outputUrl": cdn.url + "/r"})}) as api:
            end = _resume(api.url, tmp_path / "out")
    assert isinstance(end, Failed) and "refusing" in end.error.human(), end


def test_download_size_is_capped(tmp_path):
    from client.config import ProviderConfig
    from client.events import Failed
    from client.jobs import RemoteRef, iter_job_events
    from client.models import AudioInput, JobRequest
    with Recorder() as cdn:
        cdn.routes["/big.mp4"] = (200, {"Content-Type": "video/mp4"}, b"\0\0\0\x18ftypmp42" + b"\0" * 50000)
        with Recorder({"/v2/generate/gen-1": (200, {"Content-Type": "application/json"},
                                              {"id": "gen-1", "status": "COMPLETED",
                                               "outputUrl": cdn.url + "/big.mp4"})}) as api:
            req = JobRequest(provider="sync", model="lipsync-2", video="v.mp4",
                             audio=[AudioInput(id="a1", path="a.mp3")])
            events = list(iter_job_events(req, ProviderConfig("sync", ENV_KEY, api.url), tmp_path / "o",
                                          resume=RemoteRef("gen-1"), poll_interval=0.01, sleep=lambda s: None,
                                          max_download_bytes=10000))
    assert isinstance(events[-1], Failed) and "limit" in events[-1].error.human()
    assert os.listdir(tmp_path / "o") == []


@pytest.mark.parametrize("remote_id", ["../../../steal", "http://127.0.0.1:1/x", "a b", "gen-1?x=1", "", "%2e%2e"])
def test_saved_remote_id_is_checked(tmp_path, remote_id):
    from client.config import ProviderConfig
    from client.events import Failed
    from client.jobs import RemoteRef, iter_job_events
    from client.models import AudioInput, JobRequest
    with Recorder() as api:
        req = JobRequest(provider="sync", model="lipsync-2", video="v.mp4", audio=[AudioInput(id="a1", path="a.mp3")])
        events = list(iter_job_events(req, ProviderConfig("sync", ENV_KEY, api.url), tmp_path,
                                      resume=RemoteRef(remote_id), poll_interval=0.01, sleep=lambda s: None))
    assert isinstance(events[-1], Failed) and "not a valid remote id" in events[-1].error.human()
    assert api.requests == []


def test_unexpected_exception_text_is_scrubbed_from_logs(leak_sandbox, tmp_path, caplog, monkeypatch):
    """A bug deep in a provider module whose message quotes the key: the job fails cleanly and the
    logged traceback carries *** instead of the key."""
    from client.config import ProviderConfig
    from client.events import Failed
    from client.jobs import iter_job_events
    from client.models import AudioInput, JobRequest
    from client.providers.sync import SyncProvider
    from tests.media_fixtures import make_test_video, make_tone_wav
    caplog.set_level(logging.DEBUG)

    def broken(self, path, kind, progress):
        raise ValueError(f"header x-api-key: {self.config.api_key} was rejected")

    monkeypatch.setattr(SyncProvider, "upload", broken)
    req = JobRequest(provider="sync", model="lipsync-2", video=make_test_video(tmp_path / "v.mp4", 0.4),
                     audio=[AudioInput(id="a1", path=make_tone_wav(tmp_path / "a.wav", 0.4))])
    cfg = ProviderConfig("sync", ENV_KEY, leak_sandbox.base_url("sync"))
    events = list(iter_job_events(req, cfg, tmp_path / "o", poll_interval=0.01))
    end = events[-1]
    # the one-line reason names the kind of trouble, never the exception's text (it may quote anything)
    assert isinstance(end, Failed) and "could not be read (ValueError)" in end.error.human()
    import traceback
    text = caplog.text + "".join(traceback.format_exception(type(end.error), end.error, end.error.__traceback__))
    assert "ValueError" in caplog.text
    _assert_keyless(text + repr(end) + str(end.error.args), "the log or the error")


# -- in Blender: env and preference keys, faults that echo them, the saved file ----------------------
@pytest.fixture
def media(tmp_path_factory):
    return str(tmp_path_factory.mktemp("secret_media"))


def _configure(clean_env, addon_prefs, sb):
    """sync and runware take their keys from the environment, the others from the preferences;
    base URLs half from the environment, half from the preferences."""
    from client.config import ENV_KEYS
    for p in PROVIDERS:
        if p in ("sync", "runware"):
            clean_env.setenv(ENV_KEYS[p], ENV_KEY)
            clean_env.setenv(f"LIPSYNC_{p.upper()}_BASE_URL", sb.base_url(p))
        else:
            setattr(addon_prefs, f"{p}_api_key", PREF_KEY)
            setattr(addon_prefs, f"{p}_base_url", sb.base_url(p))
    clean_env.setenv("LIPSYNC_POLL_INTERVAL", "0.02")
    for name, module in list(sys.modules.items()):
        if name.endswith("vse_lipsync.client.uploads"):
            module.DEFAULT_CACHE.clear()


def test_keys_never_leak_in_blender(addon, addon_prefs, scene, online, clean_env, leak_sandbox, media, tmp_path,
                                    caplog, capfd):
    caplog.set_level(logging.DEBUG)
    leak_sandbox.reset()
    _configure(clean_env, addon_prefs, leak_sandbox)
    for i, p in enumerate(PROVIDERS):
        add_shot(addon, scene, media, name=f"ok_{p}", at=11 + 200 * i, select=False)
        add_shot(addon, scene, media, name=f"bad_{p}", at=111 + 200 * i, select=False)
    texts = []
    for p in PROVIDERS:
        key = ENV_KEY if p in ("sync", "runware") else PREF_KEY
        for name in (f"ok_{p}", f"bad_{p}"):
            sed = scene.sequence_editor
            for s in (sed.strips_all if hasattr(sed, "strips_all") else sed.sequences_all):
                s.select = s.name == name
            if name.startswith("bad"):
                # the provider echoes the key back in its failure text (some do with key prefixes)
                leak_sandbox.arm(p, "job_failed", code="E_KEY", message=f"key {key} is not allowed here")
                leak_sandbox.arm(p, "http_503", on="poll", message=f"overloaded for {key}")
            try:
                bpy.ops.lipsync.submit_selected(provider=p, model=MODEL_FOR[p])
            except RuntimeError as exc:
                import traceback
                texts.append(str(exc) + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    statuses = {r.name: r.status for r in scene.lipsync.jobs}
    assert all(statuses[f"ok_{p}"] == "COMPLETED" for p in PROVIDERS), statuses
    assert all(statuses[f"bad_{p}"] == "FAILED" for p in PROVIDERS), statuses
    assert all("***" in r.message for r in scene.lipsync.jobs if r.status == "FAILED")
    blend = tmp_path / "project.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    out, err = capfd.readouterr()
    records = "\n".join(json.dumps({k: str(getattr(r, k)) for k in r.bl_rna.properties.keys()})
                        for r in scene.lipsync.jobs)
    everything = "\n".join(texts) + caplog.text + out + err + records
    everything += "\n".join(str(rec.args) for rec in caplog.records)
    _assert_keyless(everything, "a log line, a report or a record")
    _assert_keyless(blend.read_bytes().decode("latin-1"), "the saved .blend")
    assert len(leak_sandbox.stats()["jobs"]) == 10


def test_worker_bug_quoting_the_key_is_scrubbed(addon, addon_prefs, scene, online, clean_env, leak_sandbox, media,
                                                caplog, capfd, tmp_path):
    caplog.set_level(logging.DEBUG)
    leak_sandbox.reset()
    _configure(clean_env, addon_prefs, leak_sandbox)
    add_shot(addon, scene, media)
    media_mod = lipsync("worker.media")

    def broken(*args, **kwargs):
        raise RuntimeError(f"ffmpeg saw SYNC_API_KEY={ENV_KEY}")

    clean_env.setattr(media_mod, "prepare_media", broken)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.lipsync.submit_selected(provider="sync", model="lipsync-2")
    rec = scene.lipsync.jobs[0]
    assert rec.status == "FAILED"
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "p.blend"))
    out, err = capfd.readouterr()
    _assert_keyless(str(info.value) + rec.message + caplog.text + out + err, "a worker error")
    _assert_keyless((tmp_path / "p.blend").read_bytes().decode("latin-1"), "the saved .blend")


# -- a .blend from someone else ----------------------------------------------------------------------
TAMPERED = {
    "remote id as a URL": dict(remote_id="http://127.0.0.1:{trap}/steal"),
    "remote id climbing paths": dict(remote_id="../../../..//127.0.0.1:{trap}/x"),
    "absolute URLs in the resume data": dict(remote_id="0123456789abcdef", resume={
        "status_url": "http://127.0.0.1:{trap}/status", "response_url": "http://127.0.0.1:{trap}/result",
        "urls": {"get": "http://127.0.0.1:{trap}/get"}, "app": "//127.0.0.1:{trap}/fal-ai/sync-lipsync",
        "model": "../../127.0.0.1:{trap}"}),
    "a request pointing at another host": dict(remote_id="0123456789abcdef", request_video="https://127.0.0.1:{trap}/v.mp4"),
}


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_blend_sends_nothing_elsewhere(addon, addon_prefs, scene, online, clean_env, leak_sandbox, media,
                                                tmp_path, provider, case):
    leak_sandbox.reset()
    _configure(clean_env, addon_prefs, leak_sandbox)
    movie = add_shot(addon, scene, media)
    with Recorder() as trap:
        port = trap.server_address[1]
        spec = {k: (json.loads(json.dumps(v).replace("{trap}", str(port))) if not isinstance(v, str)
                    else v.replace("{trap}", str(port))) for k, v in TAMPERED[case].items()}
        rec = record_job(scene, movie, provider, MODEL_FOR[provider], use_segments=False)[0].rna
        rec.status = "PROCESSING"   # the record as someone else's .blend may hold it (RNA, not our wrapper)
        rec.remote_id = spec["remote_id"]
        rec.resume_json = json.dumps(spec.get("resume", {}))
        if "request_video" in spec:
            from client.models import AudioInput, JobRequest
            rec.request_json = JobRequest(provider=provider, model=MODEL_FOR[provider], video=spec["request_video"],
                                          audio=[AudioInput(id="a1", path=spec["request_video"])],
                                          client_key=rec.client_key).to_json()
        blend = tmp_path / "from_someone_else.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        bpy.ops.wm.open_mainfile(filepath=str(blend))       # load_post re-attaches what is in flight
        try:
            bpy.ops.lipsync.reattach(follow_only=True)
        except RuntimeError:
            pass
        time.sleep(0.05)
        assert trap.requests == [], trap.seen()
    rec = bpy.context.scene.lipsync.jobs[0]
    assert rec.status in ("FAILED", "UNKNOWN"), (rec.status, rec.message)
    assert rec.message and "\n" not in rec.message
    assert not takes(bpy.context.scene)
    stats = leak_sandbox.stats()
    assert stats["generations"][provider] == 0       # polled, never submitted
    if "resume" in spec:   # resume data that is not a few plain values: the record is refused unasked
        assert stats["requests"] == 0 and "resume data" in rec.message, rec.message


@pytest.mark.parametrize("provider", PROVIDERS)
def test_key_bearing_requests_only_reach_the_configured_host(provider):
    """Whatever path a provider module builds (ids from a saved file, a response), a request that
    carries the key is refused unless it goes to the configured host."""
    from client.config import ProviderConfig
    from client.errors import InputError, LipsyncError
    from client.providers import provider_class
    from client.transport import Http
    with Recorder() as trap, Recorder() as configured:
        port = trap.server_address[1]
        with Http(provider) as http:
            p = provider_class(provider)(ProviderConfig(provider, ENV_KEY, configured.url), http)
            for path in (f"@127.0.0.1:{port}/x", f":{port}/x", f".127.0.0.1:{port}/x", f"?u=http://127.0.0.1:{port}"):
                with pytest.raises(InputError, match="not the configured host"):
                    p.call("GET", path, safe=True)
            assert configured.requests == []
            with pytest.raises(LipsyncError):                # a path that only looks like a host stays home
                p.call("GET", f"//127.0.0.1:{port}/x", safe=True)
        assert trap.requests == [] and len(configured.requests) == 1

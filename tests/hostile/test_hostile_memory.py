"""Bounded memory: compression bombs and oversized answers on polls and downloads.

Each bomb runs the client in a child process (the proxy and sandbox stay in the test process), so
its peak RSS is the client's alone; a plain job in the same kind of child is the baseline.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from client.errors import DownloadError
from client.events import Completed, Failed
from tests.hostile import proxy as hp
from tests.hostile.kit import LEAK_KEY, MODEL, end_state, record_max, request, run

ROOT = Path(__file__).resolve().parents[2]
RSS_MARGIN_MB = 64  # asserted: what a bomb may cost over a plain job (8 MB answer cap; a 3 GB bomb is 50x more)

CHILD = textwrap.dedent("""
    import json, sys
    from client.config import ProviderConfig
    from client.jobs import iter_job_events
    from client.models import AudioInput, JobRequest
    from client.transport import Limits
    from client.uploads import UploadCache
    def peak_mb():
        # VmHWM: this image's peak RSS (ru_maxrss would also count the forked test process)
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    provider, model, base, video, audio, out, cap = sys.argv[1:8]
    req = JobRequest(provider=provider, model=model, video=video, audio=[AudioInput(id="a1", path=audio)])
    events = list(iter_job_events(req, ProviderConfig(provider, sys.argv[8], base), out, poll_interval=0.02,
                                  sleep=lambda s: None, upload_cache=UploadCache(),
                                  limits=Limits(request_seconds=20.0), max_download_bytes=int(cap)))
    last = events[-1]
    print(json.dumps({"end": type(last).__name__, "state": getattr(getattr(last, "state", None), "value", None),
                      "error": type(getattr(last, "error", None)).__name__,
                      "message": getattr(getattr(last, "error", None), "message", ""),
                      "rss_mb": peak_mb()}))
""")


def _child(hostile, media, tmp_path, provider="sync", cap=64 * 1024 * 1024) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, provider, MODEL[provider], hostile.base_url(provider),
                           media["video"], media["audio"], str(tmp_path / "out"), str(cap), LEAK_KEY],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def baseline_rss(hostile_sandbox, hostile_proxy, media, tmp_path_factory):
    hostile_sandbox.reset()
    hostile_proxy.reset()
    result = _child(hostile_proxy, media, tmp_path_factory.mktemp("baseline"))
    assert result["end"] == "Completed", result
    record_max("peak RSS, MB: a plain job (baseline child process)", result["rss_mb"], "{:.0f}")
    return result["rss_mb"]


BOMBS = {
    "poll answer: gzip 3 MB -> 3 GB": ("poll", hp.bomb("gzip", 3072), "Failed"),
    "poll answer: zstd -> 3 GB": ("poll", hp.bomb("zstd", 3072), "Failed"),
    "poll answer: 24 MB of JSON": ("poll", hp.garbage(hp.oversized_json(24)), "Failed"),
    "poll answer: JSON 100000 deep": ("poll", hp.garbage(hp.deep_json()), "Failed"),
    "download: gzip -> 3 GB": ("download", hp.bomb("gzip", 3072, content_type="video/mp4"), "Failed"),
    "download: zstd -> 3 GB": ("download", hp.bomb("zstd", 3072, content_type="video/mp4"), "Failed"),
}


@pytest.mark.parametrize("bomb", list(BOMBS))
def test_bombs_are_refused_within_bounded_memory(hostile, media, tmp_path, baseline_rss, bomb):
    op, answer, expected = BOMBS[bomb]
    hostile.add(hp.Rule("sync", op, answer, count=1000, name=bomb))
    result = _child(hostile, media, tmp_path)
    assert result["end"] == expected, result
    assert result["error"] in ("ProviderUnavailable", "DownloadError"), result
    record_max(f"peak RSS, MB: {bomb}", result["rss_mb"], "{:.0f}")
    assert result["rss_mb"] < baseline_rss + RSS_MARGIN_MB, result
    assert not [p for p in (tmp_path / "out").glob("*")] if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
@pytest.mark.parametrize("provider", ["sync", "fal"])
def test_a_correctly_compressed_result_downloads_whole(hostile, media, tmp_path, provider, kind):
    # Content-Length is the compressed size: the check is against the bytes on the wire (issue #13)
    hostile.add(hp.Rule(provider, "download", hp.encoded(kind), count=1, name=kind))
    events = run(hostile, request(provider, media), tmp_path)
    done = events[-1]
    assert isinstance(done, Completed), done
    digest = hashlib.sha256(Path(done.outputs[0]).read_bytes()).hexdigest()
    with hostile.sandbox.state.lock:
        stored = {f.sha256 for f in hostile.sandbox.state.files.values() if f.job_id}
    assert digest in stored
    assert any(s.rule == kind for s in hostile.requests(provider, "download"))


def test_download_cap_counts_decoded_bytes(hostile, media, tmp_path):
    # 200 KB on the wire, 200 MB decoded: the cap (50 MB) is on what would land on disk
    hostile.add(hp.Rule("sync", "download", hp.bomb("gzip", 200, content_type="video/mp4"), count=10))
    events = run(hostile, request("sync", media), tmp_path, max_download_bytes=50 * 1024 * 1024)
    last = events[-1]
    assert isinstance(last, Failed) and isinstance(last.error, DownloadError) and "limit" in last.error.message
    assert not list(tmp_path.iterdir())


def test_the_client_asks_for_media_uncompressed(hostile, media, tmp_path):
    assert end_state(run(hostile, request("wavespeed", media), tmp_path)) == "COMPLETED"
    [download] = hostile.requests("wavespeed", "download")
    assert download.headers.get("accept-encoding") == "identity"
    assert all("zstd" not in s.headers.get("accept-encoding", "") for s in hostile.requests("wavespeed"))

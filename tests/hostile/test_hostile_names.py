"""File names: fal uploads of non-ASCII names, and temp downloads that belong to one job."""

from __future__ import annotations

import shutil
import threading
import time
import urllib.parse

from client.events import Completed
from client.jobs import iter_job_events
from client.transport import Limits
from client.uploads import UploadCache
from tests.hostile import proxy as hp
from tests.hostile.kit import config, end_state, request, run


def test_fal_uploads_a_non_ascii_file_name(hostile, media, tmp_path):
    name = "Szene 3 – Ärger ☎ take\u00e9.mp4"
    video = tmp_path / name
    shutil.copy(media["video"], video)
    events = run(hostile, request("fal", media, video=str(video)), tmp_path / "out")
    assert end_state(events) == "COMPLETED", events[-1]
    sent = [s.headers["x-fal-file-name"] for s in hostile.requests("fal", "upload") if s.path == "/files/upload"]
    assert all(n.isascii() and n.isprintable() for n in sent), sent
    assert "line.wav" in sent  # ASCII names go as they are
    assert {urllib.parse.unquote(n) for n in sent} == {name, "line.wav"}  # the original comes back


def test_two_jobs_with_the_same_output_name_keep_their_own_temp_files(hostile, media, tmp_path):
    """Job A's download is in progress (its .part file on disk) when job B, same folder and stem,
    starts and finishes: B removes only its own leftovers, A completes."""
    hostile.add(hp.Rule("sync", "download", hp.trickle(40_000), count=1, name="slow download"))
    out = tmp_path / "out"
    results = {}

    def job_a():
        results["a"] = list(iter_job_events(request("sync", media), config(hostile, "sync"), out, limits=Limits(),
                                            poll_interval=0.02, upload_cache=UploadCache()))

    thread = threading.Thread(target=job_a)
    thread.start()
    deadline = time.monotonic() + 30
    while not list(out.glob("*.part")):
        assert time.monotonic() < deadline and thread.is_alive(), "job A never started its download"
        time.sleep(0.01)
    [part_a] = list(out.glob("*.part"))
    b = list(iter_job_events(request("sync", media), config(hostile, "sync"), out, limits=Limits(),
                             poll_interval=0.02, upload_cache=UploadCache()))
    assert isinstance(b[-1], Completed), b[-1]
    assert part_a.exists(), "job B deleted job A's download in progress"
    thread.join(60)
    assert isinstance(results["a"][-1], Completed), results["a"][-1]
    assert not list(out.glob("*.part"))

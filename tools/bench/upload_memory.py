"""Peak extra memory of uploading a 1 GB source video through the client (sync.so asset PUT).

The upload runs the client's real path (`client.jobs._Runner.upload_one`: content hash, reuse
cache, presign, streamed PUT, register) against the sandbox, which runs in its own process so
only the client's memory is counted. A sampling thread reads this process's RSS every 2 ms; the
figure is the peak minus the RSS just before the upload (imports and the HTTP client already
made). The file does not need to be a valid video (no provider looks inside at upload time); it
is written under bench_out/ and removed after the run. Target: streamed, < 64 MB.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import common

MB = 1024 * 1024


def write_file(path: str, size: int) -> None:
    block = os.urandom(MB)
    with open(path, "wb") as f:
        for _ in range(size // MB):
            f.write(block)
        f.write(block[: size % MB])


class RssSampler(threading.Thread):
    def __init__(self, every: float = 0.002):
        super().__init__(daemon=True, name="rss-sampler")
        self.every = every
        self.peak = common.rss_bytes()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.peak = max(self.peak, common.rss_bytes())


def upload(path: str, base_url: str) -> tuple[int, float, dict]:
    from client.config import ProviderConfig
    from client.jobs import _Runner
    from client.providers import provider_class
    from client.transport import Http
    from client.uploads import UploadCache

    config = ProviderConfig("sync", common.SANDBOX_KEY, base_url)
    http = Http("sync")
    provider = provider_class("sync")(config, http)
    runner = _Runner(None, provider, http, None, time.monotonic, UploadCache())
    events = 0
    before = common.rss_bytes()
    sampler = RssSampler()
    sampler.start()
    t0 = time.perf_counter()
    steps = runner.upload_one("video", "video", path)
    try:
        while True:
            next(steps)
            events += 1
    except StopIteration as stop:
        ref = stop.value
    seconds = time.perf_counter() - t0
    sampler.stop.set()
    sampler.join()
    peak = max(sampler.peak, common.rss_bytes())
    http.close()
    return peak - before, seconds, {"ref": ref, "progress_events": events, "rss_before_mb": before / MB,
                                    "rss_peak_mb": peak / MB}


def main() -> None:
    args = common.parse_args(size_mb=1024)
    size = (8 if args.quick else args.size_mb) * MB
    free = shutil.disk_usage(common.BENCH_OUT.parent).free
    if free < 3 * size + 2 * 1024 * MB:     # the file, the sandbox's stored copy, headroom
        raise SystemExit(f"not enough disk for a {size // MB} MB upload ({free // MB} MB free)")
    common.BENCH_OUT.mkdir(exist_ok=True)
    path = str(common.BENCH_OUT / f"upload_{size // MB}mb_{os.getpid()}.bin")
    try:
        write_file(path, size)
        with common.SandboxProcess() as sb:
            extra, seconds, details = upload(path, sb.base_url("sync"))
            stored = sb.admin("GET", "stats")["uploaded_bytes"].get("sync")
    finally:
        if os.path.exists(path):
            os.remove(path)
    if stored != size:
        raise SystemExit(f"the sandbox stored {stored} bytes, expected {size}")
    common.log(f"memory: +{extra / MB:.1f} MB peak RSS for a {size // MB} MB upload in {seconds:.1f} s")
    common.write_rows(args.out, [common.row(
        "memory", f"peak extra RSS, {size // MB} MB upload", extra / MB, None, unit="MB",
        target="< 64 MB (streamed)", ok=extra < 64 * MB, upload_seconds=seconds,
        throughput_mb_s=size / MB / seconds, **details)])


if __name__ == "__main__":
    common.run(main)

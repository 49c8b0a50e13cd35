"""Everything the sandbox remembers: settings, stored files, jobs, idempotency records, stats.

One lock guards it all; handlers run on many threads (ThreadingHTTPServer) and renders on a small
worker pool. Concurrency caps are checked and the job inserted under the same lock, so two
simultaneous submits can never both slip under the cap.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import shutil
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from . import media
from .faults import JOB_KINDS, Faults
from .jobs import FAILED, REJECTED, Failure, Job, JobSpec

PROVIDERS = ("sync", "runware", "wavespeed", "foxapi", "fal")
# Settings any provider may override through configure(provider=..., ...).
DEFAULT_SETTINGS = {
    "queue_seconds": 0.0,
    "processing_seconds": 0.2,
    "concurrency": None,  # max PENDING/PROCESSING jobs per API key; None = unlimited
    "retry_after": 1,  # Retry-After seconds on concurrency 429s
    # [U] docs/providers.md §4.3: FoxAPI results as URL strings (EvoLink) or {"url"} objects (newest FoxAPI doc).
    "results_as_objects": False,
    # [U] docs/providers.md §2.4: Runware async failures as top-level errors[] ("errors") or an item with
    # status "error" ("item"); both appear in official SDKs.
    "runware_error_shape": "errors",
    # docs/providers.md §2.4: new Runware SDK tests mock the submit ack as {"data": []}.
    "runware_empty_ack": False,
    # docs/providers.md §3.2: WaveSpeed enable_sync_mode blocks at most this long, then answers code 5004.
    "wavespeed_sync_timeout": 90.0,
}


class OverLimit(Exception):
    def __init__(self, active: int, limit: int):
        super().__init__(f"{active} active jobs, limit {limit}")
        self.active, self.limit = active, limit


@dataclass
class StoredFile:
    id: str
    provider: str
    name: str
    content_type: str
    path: str | None  # None until a presigned PUT arrives
    size: int = 0
    sha256: str = ""
    job_id: str | None = None  # set for outputs
    created: float = field(default_factory=time.time)
    meta: dict = field(default_factory=dict)


class State:
    def __init__(self, workdir: str, keys, settings: dict):
        self.workdir = workdir
        self.keys = set(keys)
        self.lock = threading.RLock()
        self.faults = Faults(PROVIDERS)
        self.base_settings = dict(DEFAULT_SETTINGS, **settings)
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-render")
        self.render_cache: dict[str, dict] = {}
        self._render_locks: dict[str, threading.Lock] = {}
        self.port = 0
        self._clear()

    def _clear(self) -> None:
        self.settings = {p: dict(self.base_settings) for p in PROVIDERS}
        self.files: dict[str, StoredFile] = {}
        self.assets: dict[str, dict] = {}
        self.jobs: dict[tuple[str, str], Job] = {}
        self.idempotency: dict[tuple, dict] = {}
        self.requests: list[dict] = []
        self.generations = {p: 0 for p in PROVIDERS}
        self.by_key: dict[str, dict[str, int]] = {p: {} for p in PROVIDERS}
        self.uploads = {p: 0 for p in PROVIDERS}
        self.uploaded_bytes = {p: 0 for p in PROVIDERS}
        self.downloads = {p: 0 for p in PROVIDERS}
        self.max_concurrent = {p: 0 for p in PROVIDERS}
        self.webhooks: list[dict] = []

    def reset(self) -> None:
        with self.lock:
            self._clear()
            self.faults.reset()
            for sub in ("files", "inline"):
                shutil.rmtree(os.path.join(self.workdir, sub), ignore_errors=True)

    # -- settings -------------------------------------------------------------------------------
    def configure(self, provider: str | None = None, **values) -> None:
        unknown = set(values) - set(DEFAULT_SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        with self.lock:
            targets = PROVIDERS if provider is None else (provider,)
            for p in targets:
                if p not in PROVIDERS:
                    raise ValueError(f"unknown provider {p!r}")
                self.settings[p].update(values)

    def setting(self, provider: str, name: str):
        return self.settings[provider][name]

    def key_ok(self, key: str | None) -> bool:
        return bool(key) and key in self.keys

    # -- files ----------------------------------------------------------------------------------
    def base_url(self, provider: str) -> str:
        return f"http://127.0.0.1:{self.port}/{provider}"

    def file_url(self, f: StoredFile) -> str:
        return f"{self.base_url(f.provider)}/_files/{f.id}/{f.name}"

    def _write(self, sub: str, file_id: str, data: bytes) -> str:
        folder = os.path.join(self.workdir, sub)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, file_id)
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def reserve_file(self, provider: str, name: str, content_type: str, file_id: str | None = None) -> StoredFile:
        """A file entry whose bytes arrive later (presigned PUT)."""
        f = StoredFile(file_id or uuid.uuid4().hex, provider, _safe_name(name), content_type, None)
        with self.lock:
            self.files[f.id] = f
        return f

    def store_file(self, provider: str, data: bytes, name: str, content_type: str = "application/octet-stream",
                   file_id: str | None = None, upload: bool = True) -> StoredFile:
        with self.lock:
            f = self.files.get(file_id) if file_id else None
            if f is None:
                f = StoredFile(file_id or uuid.uuid4().hex, provider, _safe_name(name), content_type, None)
            f.path = self._write("files", f.id, data)
            f.size = len(data)
            f.sha256 = hashlib.sha256(data).hexdigest()
            f.content_type = content_type or f.content_type
            self.files[f.id] = f
            if upload:
                self.uploads[provider] += 1
                self.uploaded_bytes[provider] += len(data)
        return f

    def find_by_sha(self, provider: str, sha: str) -> StoredFile | None:
        with self.lock:
            for f in self.files.values():
                if f.provider == provider and f.sha256 == sha and f.job_id is None and f.path:
                    return f
        return None

    def resolve(self, ref: str, kind: str) -> str:
        """Local path of an input reference; raises Failure(<kind>_inaccessible)."""
        bad = Failure(f"{kind}_inaccessible", f"The {kind} input could not be downloaded: {ref[:120]}")
        if not isinstance(ref, str) or not ref:
            raise bad
        if ref.startswith("data:"):
            head, _, payload = ref.partition(",")
            try:
                data = base64.b64decode(payload) if ";base64" in head else unquote(payload).encode("latin-1")
            except (binascii.Error, ValueError):
                raise bad from None
            return self._inline(data)
        parts = urlsplit(ref)
        if parts.scheme in ("http", "https"):
            m = re.match(r"^/[^/]+/_files/([^/]+)/", parts.path)
            if parts.hostname in ("127.0.0.1", "localhost") and parts.port == self.port and m:
                f = self.files.get(m.group(1))
                if f and f.path:
                    return f.path
                raise bad
            if parts.hostname in ("127.0.0.1", "localhost", "::1"):
                try:
                    with urllib.request.urlopen(ref, timeout=5) as resp:  # loopback only, never the internet
                        return self._inline(resp.read())
                except OSError:
                    raise bad from None
            raise bad
        with self.lock:
            f = self.files.get(ref)
            asset = self.assets.get(ref)
        if f and f.path:
            return f.path
        if asset:
            return self.resolve(asset["url"], kind)
        if len(ref) > 64:  # Runware accepts raw base64 (docs/providers.md §2.8)
            try:
                return self._inline(base64.b64decode(ref, validate=True))
            except (binascii.Error, ValueError):
                pass
        raise bad

    def _inline(self, data: bytes) -> str:
        # Content-addressed; written atomically because two jobs may inline the same bytes at once.
        folder = os.path.join(self.workdir, "inline")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, hashlib.sha256(data).hexdigest())
        if not (os.path.exists(path) and os.path.getsize(path) == len(data)):
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        return path

    # -- jobs -----------------------------------------------------------------------------------
    def active_count(self, provider: str, api_key: str) -> int:
        now = time.monotonic()
        return sum(1 for j in self.jobs.values()
                   if j.provider == provider and j.api_key == api_key and j.is_active(now))

    def create_job(self, provider: str, spec: JobSpec, api_key: str, client_key: str | None = None,
                   job_id: str | None = None, extra: dict | None = None) -> Job:
        with self.lock:
            limit = self.setting(provider, "concurrency")
            active = self.active_count(provider, api_key)
            if limit is not None and active >= limit:
                raise OverLimit(active, limit)
            job = Job(provider, spec, api_key, float(self.setting(provider, "queue_seconds")),
                      float(self.setting(provider, "processing_seconds")), client_key=client_key,
                      extra=dict(extra or {}))
            if job_id:
                job.id = job_id
            while True:
                fault = self.faults.take(provider, "submit", JOB_KINDS)
                if fault is None:
                    break
                apply_job_fault(job, fault)
            self.jobs[(provider, job.id)] = job
            self.generations[provider] += 1
            if client_key:
                self.by_key[provider][client_key] = self.by_key[provider].get(client_key, 0) + 1
            self.max_concurrent[provider] = max(self.max_concurrent[provider], active + 1)
        self.executor.submit(self._render, job)
        return job

    def get_job(self, provider: str, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get((provider, job_id))

    def on_poll(self, job: Job) -> None:
        """A poll touched this job: job faults armed on="poll" apply to it now."""
        if job.is_active():
            fault = self.faults.take(job.provider, "poll", JOB_KINDS)
            if fault:
                apply_job_fault(job, fault)
                if fault.kind in ("job_failed", "job_rejected"):
                    # A failure mid-processing ends the job now, not at its planned end.
                    elapsed = time.monotonic() - job.created
                    job.queue_s = min(job.queue_s, elapsed)
                    job.proc_s = max(0.0, elapsed - job.queue_s)

    def _render(self, job: Job) -> None:
        spec = job.spec
        try:
            video = self.resolve(spec.video, "video")
            audio_paths = {src.id: self.resolve(src.ref, "audio") for src in spec.audios if src.text is None}
            keys = [_sha_file(video)]
            for src in spec.audios:
                keys.append("tts:" + src.text if src.text is not None else _sha_file(audio_paths[src.id]))
            keys += [spec.sync_mode, repr(spec.segments), repr(spec.speaker), spec.output_format,
                     repr([a.id for a in spec.audios])]
            key = hashlib.sha256("|".join(keys).encode()).hexdigest()
            with self.lock:
                key_lock = self._render_locks.setdefault(key, threading.Lock())
            with key_lock:  # identical jobs at once: render once, the others reuse it
                cached = self._render_cached(key, video, audio_paths, spec)
            job.info = dict(cached["info"])
            with open(cached["path"], "rb") as fh:
                data = fh.read()
            name = spec.output_name or job.id
            ctype = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}[spec.output_format]
            for n in range(max(1, spec.number_results)):
                suffix = "" if n == 0 else f"_{n + 1}"
                f = self.store_file(job.provider, data, f"{name}{suffix}.{spec.output_format}", ctype, upload=False)
                f.job_id = job.id
                job.outputs.append(f.id)
        except Failure as failure:
            job.render_failure = failure
        except Exception as exc:  # noqa: BLE001 - a sandbox bug must still end the job, visibly
            job.render_failure = Failure("pipeline", f"sandbox render error: {exc!r}")
        finally:
            job.done.set()

    def _render_cached(self, key: str, video: str, audio_paths: dict, spec: JobSpec) -> dict:
        cached = self.render_cache.get(key)
        if cached is not None and os.path.exists(cached["path"]):
            return cached
        audios = {}
        for src in spec.audios:
            if src.text is not None:
                audios[src.id] = media.synth_speech(src.text)
                continue
            try:
                audios[src.id] = media.decode_audio(audio_paths[src.id])
            except media.MediaError as exc:
                raise Failure("audio_invalid", str(exc)) from None
        out = os.path.join(self.workdir, "renders", f"{key}.{spec.output_format}")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        try:
            info = media.render(video, audios, out, sync_mode=spec.sync_mode, segments=spec.segments,
                                speaker=spec.speaker, audio_order=[a.id for a in spec.audios],
                                fmt=spec.output_format)
        except media.MediaError as exc:
            raise Failure("video_invalid" if exc.kind == "video" else "pipeline", str(exc)) from None
        info["video_bytes"] = os.path.getsize(video)
        cached = self.render_cache[key] = {"path": out, "info": info}
        return cached

    def output_urls(self, job: Job) -> list[str]:
        if job.output_missing:
            return []
        return [self.file_url(self.files[fid]) for fid in job.outputs if fid in self.files]

    # -- stats ----------------------------------------------------------------------------------
    def log_request(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)

    def stats(self) -> dict:
        with self.lock:
            return {
                "generations": dict(self.generations),
                "generations_by_key": {p: dict(v) for p, v in self.by_key.items()},
                "uploaded_bytes": dict(self.uploaded_bytes),
                "uploads": dict(self.uploads),
                "downloads": dict(self.downloads),
                "requests": len(self.requests),
                "max_concurrent": dict(self.max_concurrent),
                "jobs": [job_stats(j) for j in self.jobs.values()],
                "faults_armed": self.faults.armed(),
                "faults_fired": list(self.faults.fired),
                "webhooks": list(self.webhooks),
            }


def apply_job_fault(job: Job, fault) -> None:
    p = fault.params
    job.extra.setdefault("fault_params", {}).update(p)
    if fault.kind == "job_failed":
        job.failure = Failure("fault", p.get("message") or "", p.get("code"), FAILED)
    elif fault.kind == "job_rejected":
        job.failure = Failure("rejected", p.get("message") or "", p.get("code"), REJECTED)
    elif fault.kind == "output_missing":
        job.output_missing = True
    elif fault.kind == "output_expired":
        job.output_expired = True
    elif fault.kind == "truncated_download":
        job.truncate_downloads = int(p.get("times", 1))


def job_stats(j: Job) -> dict:
    info = j.info or {}
    audio_secs = info.get("audio_seconds") or {}
    spec = j.spec
    return {
        "provider": j.provider, "id": j.id, "model": spec.model, "status": j.status(),
        "client_key": j.client_key, "sync_mode": spec.sync_mode,
        "video_seconds": info.get("video_seconds"),
        "audio_seconds": audio_secs.get(spec.audios[0].id) if spec.audios else None,
        "output_seconds": info.get("output_seconds"),
        "segments": [vars(s) for s in spec.segments],
        "active_speaker": spec.speaker.as_dict() if spec.speaker else None,
        "options": spec.options, "number_results": spec.number_results,
        "inputs": {
            "video": {"bytes": info.get("video_bytes"), "duration": info.get("video_seconds"),
                      "fps": info.get("fps"), "frames": info.get("frames")},
            "audio": [{"id": a.id, "duration": audio_secs.get(a.id), "tts": a.text is not None}
                      for a in spec.audios],
        },
    }


def _sha_file(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def _safe_name(name: str) -> str:
    name = os.path.basename(name or "file") or "file"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:200]

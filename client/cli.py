"""`python -m client run|estimate|status|providers` — the same job runner, from a terminal.

Human progress goes to stderr, the result (output path, or JSON lines with --json) to stdout.
Exit 0 only when the output file was written (run) or the command answered (others); 3 when a
submit's outcome is unknown.

`run` keeps the pay-once promise across crashes (issue #13): before anything is uploaded it writes
a job file beside --out (`jobfile`), prints the client key, and records the uploaded refs, the
submit about to be sent and the remote id as they happen. Running the same command again reads
that file and resumes: it polls and downloads a job the provider holds, resends the recorded
submit byte for byte under the same key where the provider de-duplicates (sync.so, Runware), and
otherwise reports UNKNOWN without sending anything. --out is written exactly, nothing else is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
from pathlib import Path
from typing import Any

from .media_info import duration
from .pricing import capability_table, estimate
from .config import LABELS, MODELS, PROVIDERS, ProviderConfig, resolve_config
from .errors import InputError, LipsyncError, humanize, scrub
from .events import (
    Completed, Downloading, Failed, Status, Submitted, Submitting, Uploaded, Uploading, event_to_dict, json_safe,
)
from .models import ActiveSpeaker, AudioInput, JobRequest, Options, Segment, new_client_key

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m client", description="Lip-sync a video to audio through a hosted API.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--provider", required=True, choices=PROVIDERS)
        sp.add_argument("--base-url", default="",
                        help="override every host of the provider (or LIPSYNC_<NAME>_BASE_URL)")
        sp.add_argument("--json", action="store_true", help="JSON lines on stdout")

    run = sub.add_parser("run", help="upload, submit, wait and download")
    common(run)
    run.add_argument("--model", required=True, choices=MODELS)
    run.add_argument("--video", required=True)
    run.add_argument("--audio", action="append", default=[], help="audio file or URL (repeat for segments)")
    run.add_argument("--out", required=True, help="output file")
    _options(run)
    run.add_argument("--client-key", default="", help="idempotency key / Runware taskUUID to reuse")
    run.add_argument("--poll-deadline", type=float, default=6 * 3600)
    run.add_argument("--poll-interval", type=float, default=None, help="first poll interval, seconds")

    est = sub.add_parser("estimate", help="price estimate from media durations")
    est.add_argument("--provider", required=True, choices=PROVIDERS)
    est.add_argument("--model", required=True, choices=MODELS)
    est.add_argument("--video", required=True)
    est.add_argument("--audio", required=True)
    est.add_argument("--sync-mode", default=None)
    est.add_argument("--results", type=int, default=1)
    est.add_argument("--json", action="store_true")
    est.add_argument("--remote", action="store_true",
                     help="also ask the provider's cost endpoint (sync.so; uploads the media)")
    est.add_argument("--base-url", default="")

    st = sub.add_parser("status", help="state of a remote job; with --out, wait and download it")
    common(st)
    st.add_argument("--id", required=True, help="remote job id")
    st.add_argument("--model", default="lipsync-2", choices=MODELS)
    st.add_argument("--extra", default="{}", help="JSON printed with the 'submitted' event (resume data)")
    st.add_argument("--out", default="", help="wait for the job and download it here")
    st.add_argument("--poll-deadline", type=float, default=6 * 3600)
    st.add_argument("--poll-interval", type=float, default=None)

    pv = sub.add_parser("providers", help="the capability and price table")
    pv.add_argument("--json", action="store_true")
    return p


def _options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--sync-mode", default=None)
    sp.add_argument("--temperature", type=float, default=None)
    g = sp.add_mutually_exclusive_group()
    g.add_argument("--speaker-auto", action="store_true")
    g.add_argument("--speaker-point", default=None, metavar="FRAME,X,Y")
    sp.add_argument("--occlusion", action="store_true")
    sp.add_argument("--segments", default=None, metavar="FILE.json")
    sp.add_argument("--emotion", default=None)
    sp.add_argument("--mode", default=None)
    sp.add_argument("--output-format", default=None)
    sp.add_argument("--quality", type=int, default=None)
    sp.add_argument("--results", type=int, default=1)


def request_from_args(a: argparse.Namespace, client_key: str | None = None) -> JobRequest:
    speaker = None
    if a.speaker_auto:
        speaker = ActiveSpeaker(auto=True)
    elif a.speaker_point:
        try:
            frame, x, y = (int(v) for v in a.speaker_point.split(","))
        except ValueError:
            raise InputError("--speaker-point takes FRAME,X,Y (three integers)") from None
        speaker = ActiveSpeaker(frame=frame, point=(x, y))
    options = Options(sync_mode=a.sync_mode, temperature=a.temperature, active_speaker=speaker,
                      occlusion_detection=True if a.occlusion else None, emotion=a.emotion, mode=a.mode,
                      output_format=a.output_format, output_quality=a.quality, number_results=a.results)
    audio = [AudioInput(id=f"a{i + 1}", path=path) for i, path in enumerate(a.audio)]
    segments: list[Segment] = []
    if a.segments:
        audio, segments = load_segments(a.segments, audio)
    if not audio:
        raise InputError("give --audio, or --segments with audio files")
    return JobRequest(provider=a.provider, model=a.model, video=a.video, audio=audio, segments=segments,
                      options=options, client_key=client_key or a.client_key or new_client_key())


def load_segments(path: str, audio: list[AudioInput]) -> tuple[list[AudioInput], list[Segment]]:
    """A JSON list of {start, end, audio (file, or id a1.. of --audio), audio_start?, audio_end?, options?};
    or {"audio": [{id, path}], "segments": [...]} . Relative paths are relative to the JSON file."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read segments file {path}: {exc}") from None
    try:
        return _segments_from(data, Path(path).resolve().parent, list(audio))
    except (KeyError, TypeError, AttributeError, InputError) as exc:
        # a hand-written file: say which file and what is wrong, never a traceback
        what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(f"segments file {path}: {what}") from None


def _segments_from(data, root: Path, audio: list[AudioInput]) -> tuple[list[AudioInput], list[Segment]]:
    if isinstance(data, dict):
        for item in data.get("audio", []):
            p = item["path"]
            audio.append(AudioInput(id=item["id"], path=p if "://" in p else str(root / p),
                                    start=item.get("start"), end=item.get("end")))
        data = data.get("segments", [])
    by_path = {a.path: a.id for a in audio}
    segments = []
    for n, item in enumerate(data, 1):
        ref = item.get("audio_id") or item.get("audio")
        if ref not in {a.id for a in audio}:
            full = ref if "://" in str(ref) else str(root / str(ref))
            if full not in by_path:
                by_path[full] = f"s{len(by_path) + 1}"
                audio.append(AudioInput(id=by_path[full], path=full))
            ref = by_path[full]
        try:
            segments.append(Segment(start=item["start"], end=item["end"], audio_id=ref,
                                    audio_start=item.get("audio_start"), audio_end=item.get("audio_end"),
                                    options_override=item.get("options") or item.get("options_override") or {}))
        except KeyError as exc:
            raise InputError(f"segment {n} has no {exc}") from None
        except InputError as exc:
            raise InputError(f"segment {n}: {exc}") from None
    return audio, segments


class Reporter:
    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def event(self, event: Any) -> None:
        if self.as_json:
            self.line(event_to_dict(event))
            return
        if isinstance(event, Uploading):
            pct = 100 * event.sent / event.total if event.total else 100
            self.err(f"uploading {event.name}: {pct:.0f}%")
        elif isinstance(event, Uploaded):
            self.err(f"uploaded {event.name}" + (" (reused)" if event.reused else ""))
        elif isinstance(event, Submitting):
            self.err("submitting" + (" (idempotent: a resend with this key is never billed twice)"
                                     if event.idempotent else ""))
        elif isinstance(event, Submitted):
            self.err(f"submitted: {event.remote_id}")
        elif isinstance(event, Status):
            pct = "" if event.progress is None else f" {100 * event.progress:.0f}%"
            self.err(f"status: {event.state.value.lower()}{pct}")
        elif isinstance(event, Downloading):
            self.err(f"downloading: {event.received} bytes")
        elif isinstance(event, Completed):
            cost = "" if event.cost is None else f" (cost ${event.cost:.4f})"
            self.err(f"done{cost}")
            for path in event.outputs:
                print(path, flush=True)
        elif isinstance(event, Failed):
            self.err(f"error: {event.error.human()}")

    def plan(self, plan) -> None:
        """What this run is about to do with the job file beside --out (before anything is sent)."""
        job = plan.job
        if self.as_json:
            self.line({"event": "job", "plan": plan.kind, "job_file": str(job.path),
                       "client_key": job.get("client_key"), "remote_id": job.get("remote_id"), "note": plan.note})
        elif plan.kind == "unknown":
            self.err(f"error: {plan.note}")
        else:
            self.err(f"job file: {job.path} (client key {job.get('client_key')})")
            if plan.note:
                self.err(plan.note)

    def line(self, data: dict) -> None:
        # strict JSON: non-finite numbers become null (json_safe) and allow_nan=False proves it
        print(scrub(json.dumps(json_safe(data), allow_nan=False)), flush=True)

    @staticmethod
    def err(text: str) -> None:
        print(scrub(text), file=sys.stderr, flush=True)


def _config(a: argparse.Namespace) -> ProviderConfig:
    cfg = resolve_config(a.provider)
    if a.base_url:
        cfg = ProviderConfig(a.provider, cfg.api_key, a.base_url)
    return cfg


def _drive(events, reporter: Reporter, recorder=None, hint=None) -> int:
    code = EXIT_FAILED
    for event in events:
        if recorder is not None:
            # saved before the generator is asked for more: the next step may be the paid POST
            recorder.event(event)
        if isinstance(event, Completed):
            written = [p for p in event.outputs if Path(p).is_file()]
            if not written:
                reporter.err("error: the job completed but no output file was written.")
                return EXIT_FAILED
            event = dataclasses.replace(event, outputs=written)
            code = EXIT_OK
        elif isinstance(event, Failed):
            code = EXIT_UNKNOWN if event.state.value == "UNKNOWN" else EXIT_FAILED
        reporter.event(event)
        if isinstance(event, Failed) and hint is not None:
            extra = hint(event)
            if extra:
                reporter.err(extra)
    return code


def cmd_run(a: argparse.Namespace, reporter: Reporter) -> int:
    # late: httpx and the providers, only for the commands that call out
    from .jobs import iter_job_events
    from .runplan import Recorder, plan_run  # late: as above (it reads job files through the providers)

    out = Path(a.out).resolve()
    if out.is_dir():
        raise InputError(f"--out {a.out} is a folder; give the path of the output file")
    plan = plan_run(a, out, request_from_args)
    reporter.plan(plan)
    if plan.kind == "done":
        print(str(out), flush=True)
        return EXIT_OK
    if plan.kind == "unknown":
        return EXIT_UNKNOWN
    cancel = threading.Event()
    multi = plan.request.options.number_results != 1
    events = iter_job_events(plan.request, _config(a), out.parent, out_stem=out.stem, out_file=out,
                             resume=plan.resume, uploaded=plan.uploaded, cancel=cancel,
                             poll_deadline=a.poll_deadline, poll_interval=a.poll_interval)
    recorder = Recorder(plan.job)
    try:
        code = _drive(events, reporter, recorder, recorder.hint)
    except KeyboardInterrupt:
        cancel.set()
        reporter.err(f"error: interrupted; the remote job may still be running. {plan.job.path} keeps what is "
                     "known: run the same command again to resume without paying twice.")
        return 130
    if multi and code == EXIT_OK:
        reporter.err(f"note: {plan.request.options.number_results} results were asked for; they are "
                     f"{out.name} and {out.stem}_2{out.suffix}, ...")
    return code


def cmd_status(a: argparse.Namespace, reporter: Reporter) -> int:
    # late: httpx and the providers, only for the commands that call out
    from .jobs import RemoteRef, check_remote_ref, iter_job_events
    from .polling import sanitize  # late: as above
    from .providers import provider_class  # late: as above
    from .transport import Http  # late: as above

    try:
        extra = json.loads(a.extra)
    except ValueError:
        raise InputError("--extra must be a JSON object") from None
    ref = RemoteRef(a.id, extra if isinstance(extra, dict) else {})
    check_remote_ref(ref, a.provider)
    cfg = _config(a)
    if a.out:
        out = Path(a.out).resolve()
        request = JobRequest(provider=a.provider, model=a.model, video="resume", audio=[])
        events = iter_job_events(request, cfg, out.parent, out_stem=out.stem, out_file=out, resume=ref,
                                 poll_deadline=a.poll_deadline, poll_interval=a.poll_interval)
        return _drive(events, reporter)
    with Http(a.provider) as http:
        result = sanitize(provider_class(a.provider)(cfg, http).poll(ref))
    data = {"event": "status", "remote_id": a.id, "state": result.state.value, "progress": result.progress,
            "outputs": result.outputs, "cost": result.cost,
            "error": result.error.human() if result.error else None}
    if a.json:
        reporter.line(data)
    else:
        print(f"{result.state.value}" + (f": {data['error']}" if data["error"] else ""), flush=True)
    return EXIT_OK


def cmd_estimate(a: argparse.Namespace, reporter: Reporter) -> int:
    v, au = duration(a.video), duration(a.audio)
    if v is None or au is None:
        missing = a.video if v is None else a.audio
        raise InputError(f"cannot read the duration of {missing} (MP4/MOV, WAV and MP3 are understood)")
    est = estimate(a.provider, a.model, v, au, a.sync_mode, a.results)
    data = {"provider": a.provider, "model": a.model, "video_seconds": round(v, 3), "audio_seconds": round(au, 3),
            "usd": est.usd, "billed_seconds": est.billed_seconds, "note": est.note}
    if a.remote:
        from .jobs import remote_estimate  # late: httpx, only when the provider is asked

        request = JobRequest(provider=a.provider, model=a.model, video=a.video,
                             audio=[AudioInput(id="a1", path=a.audio)], options=Options(sync_mode=a.sync_mode))
        data["provider_usd"] = remote_estimate(request, _config(a))
    if a.json:
        reporter.line(data)
    else:
        price = "unknown" if est.usd is None else f"${est.usd:.4f}"
        print(f"{LABELS[a.provider]} {a.model}: {price} — {est.note}", flush=True)
        if a.remote:
            remote = data["provider_usd"]
            print(f"{LABELS[a.provider]}'s own estimate: " + ("not offered" if remote is None else f"${remote:.4f}"),
                  flush=True)
    return EXIT_OK


def cmd_providers(a: argparse.Namespace, reporter: Reporter) -> int:
    rows = capability_table()
    if a.json:
        for row in rows:
            reporter.line(row)
        return EXIT_OK
    for provider in PROVIDERS:
        print(f"{LABELS[provider]} ({provider})")
        for row in rows:
            if row["provider"] != provider:
                continue
            rate = row["price"]["usd_per_second"]
            price = "price unknown" if rate is None else f"${rate:.4f}/s of {row['price']['basis']}"
            print(f"  {row['model']:<20} modes {','.join(row['sync_modes'])} (default {row['default_sync_mode']}); "
                  f"{price}\n    options: {', '.join(row['options'])}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    reporter = Reporter(getattr(args, "json", False))
    commands = {"run": cmd_run, "status": cmd_status, "estimate": cmd_estimate, "providers": cmd_providers}
    try:
        return commands[args.command](args, reporter)
    except LipsyncError as exc:
        if reporter.as_json:
            reporter.line({"event": "error", "message": exc.human()})
        reporter.err(f"error: {exc.human()}")
        return EXIT_USAGE if isinstance(exc, InputError) else EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback with request details
        reporter.err(f"error: {humanize(exc)}")
        return EXIT_FAILED

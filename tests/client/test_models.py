"""client.models: plain dataclasses that check their types, round-trip through JSON, and keep
reading the request records that earlier versions (pydantic models) saved in .blend files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from client import cli
from client.errors import InputError
from client.models import ActiveSpeaker, AudioInput, JobRequest, Options, Segment

ROOT = Path(__file__).resolve().parents[2]

# Written by version 0.1's pydantic JobRequest.model_dump_json() (job records in saved .blend files).
PYDANTIC_RECORD = (
    '{"provider":"sync","model":"lipsync-2","video":"/v/clip.mp4","audio":[{"id":"a1","path":"/a/line.mp3",'
    '"start":0.5,"end":2.0}],"text":[],"segments":[{"start":0.0,"end":1.5,"audio_id":"a1","audio_start":null,'
    '"audio_end":null,"options_override":{"temperature":0.3}}],"options":{"sync_mode":"loop","temperature":0.5,'
    '"active_speaker":{"auto":false,"frame":4,"point":[10,20],"boxes":null},"occlusion_detection":null,'
    '"emotion":null,"mode":null,"output_format":null,"output_quality":null,"number_results":1,'
    '"safety_check":null,"ttl":null,"include_cost":true},"client_key":"k-1"}'
)


def full_request() -> JobRequest:
    return JobRequest(provider="sync", model="lipsync-2", video="/v/clip.mp4",
                      audio=[AudioInput(id="a1", path="/a/line.mp3", start=0.5, end=2)],
                      segments=[Segment(start=0, end=1.5, audio_id="a1", options_override={"temperature": 0.3})],
                      options=Options(sync_mode="loop", temperature=0.5,
                                      active_speaker=ActiveSpeaker(frame=4, point=(10, 20))),
                      client_key="k-1")


def test_json_round_trip_is_equal():
    req = full_request()
    again = JobRequest.from_json(req.to_json())
    assert again == req
    assert again.options.active_speaker.point == (10, 20)  # a tuple again, not JSON's list
    assert isinstance(again.audio[0], AudioInput) and isinstance(again.segments[0], Segment)


def test_reads_records_saved_by_the_pydantic_models():
    assert JobRequest.from_json(PYDANTIC_RECORD) == full_request()


def test_numbers_are_normalised_like_json_gives_them():
    req = full_request()
    assert req.audio[0].end == 2.0 and isinstance(req.audio[0].end, float)
    assert isinstance(req.segments[0].start, float)


def test_nested_plain_data_is_built_into_models():
    # Options(**json.loads(record.options_json)) is how the add-on rebuilds a job's options
    opts = Options(**json.loads('{"active_speaker": {"frame": 2, "point": [5, 6]}, "temperature": 1}'))
    assert opts.active_speaker == ActiveSpeaker(frame=2, point=(5, 6)) and opts.temperature == 1.0
    req = JobRequest(provider="fal", model="lipsync-2", video="v.mp4", audio=[{"id": "a1", "path": "a.wav"}])
    assert req.audio == [AudioInput(id="a1", path="a.wav")]
    assert JobRequest(provider="p", model="m", video="v").client_key != JobRequest(provider="p", model="m",
                                                                                     video="v").client_key


@pytest.mark.parametrize("build,words", [
    (lambda: JobRequest(provider="sync", model="lipsync-2", video=3), "JobRequest.video must be text, not 3"),
    (lambda: Options(temperature="hot"), "Options.temperature must be a number, not 'hot'"),
    (lambda: Options(temperature=True), "Options.temperature must be a number"),
    (lambda: Options(occlusion_detection="yes"), "Options.occlusion_detection must be true or false"),
    (lambda: Options(output_quality=50.5), "Options.output_quality must be a whole number"),
    (lambda: Segment(start="0.5", end=1, audio_id="a1"), "Segment.start must be a number, not '0.5'"),
    (lambda: Segment(start=0, end=1, audio_id="a1", options_override=[]), "Segment.options_override must be"),
    (lambda: ActiveSpeaker(point=(1, 2, 3)), "ActiveSpeaker.point must be 2 whole numbers"),
    (lambda: ActiveSpeaker(boxes=[[0, 0, "x", 1]]), "ActiveSpeaker.boxes must be"),
    (lambda: Options(**{"active_speaker": {"frame": 1, "spot": [1, 2]}}), "unknown field 'spot'"),
    (lambda: JobRequest.from_json('{"provider": "sync"'), "not valid JSON"),
    (lambda: JobRequest.from_json(PYDANTIC_RECORD.replace('"ttl"', '"tll"')), "unknown field 'tll'"),
])
def test_wrong_types_are_input_errors_naming_the_field(build, words):
    with pytest.raises(InputError) as info:
        build()
    assert words in str(info.value)


@pytest.mark.parametrize("entry,words", [
    ({"start": "0.5", "end": 1.0, "audio": "a1"}, "segment 2: Segment.start must be a number, not '0.5'"),
    ({"end": 1.0, "audio": "a1"}, "segment 2 has no 'start'"),
])
def test_cli_segments_file_errors_name_file_and_entry(tmp_path, capsys, entry, words):
    seg = tmp_path / "segments.json"
    seg.write_text(json.dumps([{"start": 0.0, "end": 0.5, "audio": "a1"}, entry]))
    code = cli.main(["run", "--provider", "sync", "--model", "lipsync-2", "--video", str(tmp_path / "v.mp4"),
                     "--audio", str(tmp_path / "a.wav"), "--segments", str(seg), "--out", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert f"segments file {seg}: {words}" in err[0]


def test_the_cli_loads_no_validation_framework():
    """Start-up is part of every `python -m client run` (issue #7: pydantic alone cost ~130 ms)."""
    probe = ("import sys, client.cli, client.jobs; client.jobs.provider_class('sync'); "
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pydantic_core'}), "
             "sorted(m for m in sys.modules if m.startswith('client.providers.')))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr
    heavy, providers = proc.stdout.strip().split("] [")
    assert heavy == "[", heavy  # nothing from pydantic
    # only the provider asked for (and the shared base) is imported
    assert providers.rstrip("]") == "'client.providers.base', 'client.providers.sync'"

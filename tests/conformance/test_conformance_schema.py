"""Kind 2: requests checked against the schema the official SDK ships, by the sandbox and for our client.

runware-sdk ships Runware's task tables (generated TypedDicts, `runware/types/task_map.py`): the
sandbox's vendored copy must equal them, the sandbox must refuse what they forbid, and the tasks
our client builds must fit them. syncsdk ships pydantic models of sync.so's request bodies: our
client's submit body must parse into them with no unknown field left over. Our wire tables
(client/endpoints.py) must name the SDKs' hosts and model ids (docs/providers.md §8).
"""

from __future__ import annotations

import importlib.metadata
import typing
import uuid

import pydantic
import pytest

import client.config
from client.endpoints import WIRES
from client.models import ActiveSpeaker, AudioInput, JobRequest, Options, Segment, TextInput
from sandbox.providers.runware_schema import SCHEMA_SOURCE, UTILITY_TASKS, VIDEO_TASKS
from tests.conformance.sdks import check_typed

KINDS = {str: "string", int: "int", bool: "bool", float: "number"}
WRONG = {"string": 5, "int": "5", "bool": "yes", "object": [], "number": "x"}


def _sdk_params(predicate):
    from runware.types import task_map as tm

    typed = [getattr(tm, n) for n in dir(tm) if n.endswith("Params")]
    return [t for t in typed if isinstance(t, type) and issubclass(t, dict) and predicate(t)]


def _literal(td, key):
    hint = typing.get_type_hints(td, include_extras=True).get(key)
    hint = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.NotRequired else hint
    return typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else ()


def _as_table(td) -> dict:
    """A TypedDict of the SDK as (type, allowed values, required) per field, like runware_schema.py."""
    table = {}
    for key, hint in typing.get_type_hints(td, include_extras=True).items():
        required = typing.get_origin(hint) is not typing.NotRequired
        if not required:
            hint = typing.get_args(hint)[0]
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin is typing.Literal:
            table[key] = (KINDS[type(args[0])], tuple(args), required)
        elif origin is dict or hint is dict:
            table[key] = ("object", None, required)
        else:
            table[key] = (KINDS[hint], None, required)
    return table


def test_vendored_runware_tables_equal_the_installed_sdk():
    from runware._schemas_version import SCHEMAS_VERSION

    version = importlib.metadata.version("runware-sdk")
    assert SCHEMA_SOURCE.startswith(f"runware-sdk {version} ") and SCHEMAS_VERSION in SCHEMA_SOURCE
    for air, table in VIDEO_TASKS.items():
        (td,) = _sdk_params(lambda t, air=air: _literal(t, "model") == (air,))
        assert table == _as_table(td), (air, td.__name__)
    for task_type, table in UTILITY_TASKS.items():
        (td,) = _sdk_params(lambda t, kind=task_type: _literal(t, "taskType") == (kind,) and not _literal(t, "model"))
        assert table == _as_table(td), (task_type, td.__name__)


def test_client_wire_tables_name_the_sdk_hosts_and_model_ids():
    import fal_client.client as fc
    import wavespeed.config
    from runware.types import task_map as tm
    from runware.types.sdk import SDKConfig
    from sync.common.types.model import Model
    from sync.environment import SyncEnvironment

    assert client.config.HOSTS == {p: w.hosts for p, w in WIRES.items()}  # what the client really uses
    assert WIRES["sync"].hosts["api"] == SyncEnvironment.DEFAULT.value
    assert set(WIRES["sync"].models.values()) <= set(typing.get_args(typing.get_args(Model)[0]))
    assert WIRES["runware"].hosts["api"] + WIRES["runware"].paths["tasks"] == SDKConfig.http_base_url
    # our AIRs are the SDK registry's, for the same sync. models (registry slug = "sync-" + our name)
    for model, air in WIRES["runware"].models.items():
        assert tm.models[air].task_type == "videoInference"
        assert tm.models[air].id in (f"sync-{model}", model), (model, air)
    assert WIRES["wavespeed"].hosts["api"] == wavespeed.config.api.base_url
    assert WIRES["fal"].hosts == {"api": fc.QUEUE_URL_FORMAT.rstrip("/"), "storage": fc.REST_URL, "cdn": fc.CDN_URL}
    for version in (("syncsdk", "0.3.0"), ("runware-sdk", "1.8.0"), ("wavespeed", "2.0.5"), ("fal-client", "1.0.3")):
        assert importlib.metadata.version(version[0]) == version[1]
        assert " ".join(version) in {w.provider: w for w in WIRES.values()}[_PROVIDER_OF[version[0]]].checked


_PROVIDER_OF = {"syncsdk": "sync", "runware-sdk": "runware", "wavespeed": "wavespeed", "fal-client": "fal"}


# -- the sandbox refuses what the SDK's tables forbid --------------------------------------------------


def _task(air):
    return {"taskType": "videoInference", "taskUUID": str(uuid.uuid4()), "model": air, "deliveryMethod": "async",
            "inputs": {"video": "https://x.invalid/v.mp4", "audio": "https://x.invalid/a.wav"}}


def _post(sandbox, http, task):
    return http.post(sandbox.base_url("runware") + "/v1", json=[task], headers={"Authorization": "Bearer sandbox-key"})


@pytest.mark.parametrize("air", sorted(VIDEO_TASKS))
def test_sandbox_refuses_what_the_sdk_schema_forbids(sandbox, air):
    import httpx

    from runware.types import task_map as tm

    (td,) = _sdk_params(lambda t, air=air: _literal(t, "model") == (air,))
    table = _as_table(td)
    refused = []
    with httpx.Client(timeout=20) as http:
        assert _post(sandbox, http, _task(air)).status_code == 200  # the baseline is fine
        for key, (kind, allowed, required) in table.items():
            task = _task(air)
            task[key] = WRONG[kind] if allowed is None else "NOT-" + str(allowed[0])
            refused.append((key, _post(sandbox, http, task).status_code))
            if required:
                task = _task(air)
                task.pop(key, None)
                refused.append((f"-{key}", _post(sandbox, http, task).status_code))
        for key in ("speech", "positivePrompt", "settings" if "providerSettings" in table else "providerSettings"):
            task = _task(air)
            task[key] = {"text": "hi"}
            refused.append((key, _post(sandbox, http, task).status_code))
    assert all(status == 400 for _, status in refused), refused
    assert sandbox.stats()["generations"]["runware"] == 1
    assert set(tm.models) >= set(VIDEO_TASKS)


def test_sandbox_refuses_the_old_sync3_id_and_speech_shape(sandbox):
    import httpx

    speech = {"id": "t1", "provider": "elevenlabs", "voiceId": "v", "text": "hi"}
    with httpx.Client(timeout=20) as http:
        old = dict(_task("sync:3@0"), model="sync:lipsync@3")
        assert _post(sandbox, http, old).json()["errors"][0]["code"] == "invalidModel"
        top = _task("sync:3@0")
        top["inputs"].pop("audio")
        top["speech"] = speech
        assert _post(sandbox, http, top).json()["errors"][0]["code"] == "unsupportedParameter"
        obj = _task("sync:3@0")
        obj["inputs"] = {"video": obj["inputs"]["video"], "speech": speech}
        assert _post(sandbox, http, obj).status_code == 400
        obj["inputs"]["speech"] = [speech]
        assert _post(sandbox, http, obj).status_code == 200


# -- our client's requests fit the SDKs' schemas -------------------------------------------------------

# runware 0.5.24 (the older SDK, `runware/types.py` ISpeechInput) types the items of inputs.speech.
# It installs the same `runware` module as runware-sdk, so it cannot sit in the same venv: vendored.
SPEECH_ITEM_FIELDS_RUNWARE_0_5_24 = {"id", "provider", "voiceId", "text"}


def _request(media, provider, model, **fields):
    options = fields.pop("options", {})
    base = dict(provider=provider, model=model, video=media["video"], client_key=str(uuid.uuid4()),
                audio=[AudioInput(id="a1", path=media["audio"])], options=Options(**options))
    base.update(fields)
    return JobRequest(**base)


def _runware_tasks(media):
    speaker = ActiveSpeaker(frame=3, point=(10, 12))
    full = dict(sync_mode="cut_off", temperature=0.4, active_speaker=speaker, occlusion_detection=True,
                output_format="WEBM", output_quality=80, ttl=3600, safety_check=True, include_cost=True)
    yield "lipsync-2", _request(media, "runware", "lipsync-2", options=full)
    yield "lipsync-2-pro", _request(media, "runware", "lipsync-2-pro", segments=[Segment(0, 0.5, "a1", 0, 0.4)])
    yield "sync-3", _request(media, "runware", "sync-3", options=dict(full, emotion="happy", mode="lips"))
    yield "sync-3", _request(media, "runware", "sync-3", audio=[], text=[TextInput(id="t1", text="hi", voice="v")])
    yield "sync-3", _request(media, "runware", "sync-3", audio=[], text=[
        TextInput(id="t1", text="hello there", voice="v", stability=0.3, similarity_boost=0.8)])


def test_client_runware_tasks_fit_the_sdk_task_tables(media):
    from client.config import ProviderConfig
    from client.providers.runware import RunwareProvider

    provider = RunwareProvider(ProviderConfig("runware", "k"), http=None)
    for model, req in _runware_tasks(media):
        task = provider.task(req, {"video": "media-uuid-v", "a1": "media-uuid-a"})
        (td,) = _sdk_params(lambda t, air=WIRES["runware"].models[model]: _literal(t, "model") == (air,))
        check_typed(task, td)
        for item in task["inputs"].get("speech", []):
            assert set(item) == SPEECH_ITEM_FIELDS_RUNWARE_0_5_24, item
        # sync-3 docs (§2.3): settings.tts {provider, stability, similarityBoost}, only with speech
        tts = task.get("settings", {}).get("tts")
        assert (tts is not None) == bool(req.text)
        if tts is not None:
            t = req.text[0]
            want = {"provider": "elevenlabs", "stability": t.stability, "similarityBoost": t.similarity_boost}
            assert tts == {k: v for k, v in want.items() if v is not None}


def _extras(obj, where="body") -> list[str]:
    """Fields the SDK's models did not declare (pydantic keeps them as extras): wrong names or casing."""
    if isinstance(obj, pydantic.BaseModel):
        found = [f"{where}.{k}" for k in (obj.model_extra or {})]
        for name in type(obj).model_fields:
            found += _extras(getattr(obj, name), f"{where}.{name}")
        return found
    if isinstance(obj, list):
        return [e for i, item in enumerate(obj) for e in _extras(item, f"{where}[{i}]")]
    return []


def test_client_sync_bodies_parse_into_the_sdk_request_model(media):
    from client.config import ProviderConfig
    from client.providers.sync import SyncProvider
    from sync.common.types.create_generation_dto import CreateGenerationDto
    from tests.conformance.sdks import sync_parse

    provider = SyncProvider(ProviderConfig("sync", "k"), http=None)
    speaker = ActiveSpeaker(boxes=[[1, 2, 30, 40], None])
    reqs = [_request(media, "sync", "lipsync-2", options=dict(sync_mode="loop", temperature=0.3, active_speaker=speaker,
                                                             occlusion_detection=True)),
            _request(media, "sync", "lipsync-2-pro", text=[TextInput(id="t1", text="hi", voice="v")],
                     segments=[Segment(0, 0.5, "a1", 0, 0.4, options_override={"temperature": 0.2}),
                               Segment(0.5, 1.0, "t1")]),
            _request(media, "sync", "sync-3", options=dict(active_speaker=ActiveSpeaker(auto=True))),
            _request(media, "sync", "sync-3", audio=[], text=[
                TextInput(id="t1", text="hello there", voice="v", stability=0.4, similarity_boost=0.7)])]
    for req in reqs:
        refs = {"video": "https://x.invalid/v.mp4", "a1": "https://x.invalid/a.wav"}
        parsed = sync_parse(CreateGenerationDto, provider.body(req, refs))
        # optionsOverride is newer than syncsdk 0.3.0's GenerationSegment (docs only, §1.5)
        assert [e for e in _extras(parsed) if not e.endswith(".optionsOverride")] == [], req.model
        for t, item in zip(req.text, [i for i in parsed.input if getattr(i, "type", "") == "text"]):
            # syncsdk's ElevenLabs model: the voice settings land in its own fields, none as extras
            assert (item.provider.voice_id, item.provider.script) == (t.voice, t.text)
            assert (item.provider.stability, item.provider.similarity_boost) == (t.stability, t.similarity_boost)


def test_client_and_sandbox_never_import_an_sdk():
    """The SDKs are test oracles only: the extension ships without them and the sandbox runs in the demo."""
    import ast
    import pathlib

    sdk_modules = {"sync", "fal_client", "wavespeed", "runware", "pydantic", "aiohttp", "requests"}
    root = pathlib.Path(__file__).resolve().parents[2]
    found = []
    for folder in ("client", "sandbox"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
                found += [f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in sdk_modules]
    assert found == []


def test_the_loopback_guard_refuses_before_anything_is_sent(loopback_attempts):
    """The folder's guard (conftest.py) stops a non-loopback connect or lookup before any packet
    leaves; the attempt is recorded, and would fail the test that made it."""
    import socket

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(ConnectionRefusedError):
            sock.connect(("192.0.2.1", 443))  # TEST-NET-1, refused by the guard itself
    finally:
        sock.close()
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("api.runware.ai", 443)
    assert loopback_attempts == ["connect 192.0.2.1:443", "resolve api.runware.ai"]
    loopback_attempts.clear()  # this test made them on purpose

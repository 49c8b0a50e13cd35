"""Wire constants of each provider, one table per provider: hosts, paths and model ids.

Every table names the official SDK release and the files it was checked against; where the
provider has no SDK, or the SDK is silent, the evidence is the provider's docs or marked [U].
docs/providers.md gives the facts behind each entry (§1 sync.so, §2 Runware, §3 WaveSpeedAI,
§4 FoxAPI, §5 fal, §8 the SDKs); tests/conformance compares these tables with the installed
SDKs and the SDKs' traffic with ours. Plain data, no imports: Blender's main thread reads it.
"""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class Wire:
    provider: str
    #: the SDK release and files these constants were checked against (or the docs)
    checked: str
    #: host role -> origin ("api" is the one every provider has)
    hosts: dict[str, str]
    #: operation -> path template (str.format fields: id, model, app)
    paths: dict[str, str]
    #: our model name -> the provider's id (sync.so name, Runware AIR, URL path, fal endpoint)
    models: dict[str, str]
    #: fal only: our model name -> the `model` input field its endpoint takes
    model_field: dict[str, str] = dataclasses.field(default_factory=dict)


SYNC = Wire(
    "sync",
    checked="syncsdk 0.3.0: sync/environment.py, sync/generations/raw_client.py, sync/assets/raw_client.py, "
            "sync/models/raw_client.py, sync/common/types/model.py; asset upload paths from the docs (§1.14)",
    hosts={"api": "https://api.sync.so"},
    paths={"presign": "/v2/assets/upload", "register": "/v2/assets", "find_uploaded": "/v2/assets/uploaded",
           "submit": "/v2/generate", "poll": "/v2/generate/{id}", "estimate": "/v2/analyze/cost"},
    models={m: m for m in ("lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3")},
)

# sync-3 on Runware: the SDK registry says `sync:3@0` (an older SDK snapshot said `sync:lipsync@3`,
# docs/providers.md §2.2), so the id stays overridable in case it moves again.
RUNWARE_SYNC3_ENV = "LIPSYNC_RUNWARE_SYNC3_AIR"

RUNWARE = Wire(
    "runware",
    checked="runware-sdk 1.8.0: runware/types/sdk.py (http_base_url), runware/types/task_map.py (models, "
            "Sync3Params, SyncLipsync2Params, MediaStorageParams), runware/transport/rest.py",
    hosts={"api": "https://api.runware.ai"},
    paths={"tasks": "/v1"},
    models={"lipsync-2": "sync:lipsync-2@1", "lipsync-2-pro": "sync:lipsync-2-pro@1",
            "sync-3": os.environ.get(RUNWARE_SYNC3_ENV, "").strip() or "sync:3@0"},
)

WAVESPEED = Wire(
    "wavespeed",
    checked="wavespeed 2.0.5: wavespeed/config.py (base_url), wavespeed/api/client.py (_submit, _get_result, "
            "upload); model paths from the docs and third-party code, sync-3 path [U] (§3.1)",
    hosts={"api": "https://api.wavespeed.ai"},
    paths={"upload": "/api/v3/media/uploads", "submit": "/api/v3/{model}", "poll": "/api/v3/predictions/{id}/result"},
    models={"lipsync-1.9.0-beta": "sync/lipsync-1.9.0-beta", "lipsync-2": "sync/lipsync-2",
            "lipsync-2-pro": "sync/lipsync-2-pro", "sync-3": "sync/lipsync-3"},
)

FOXAPI = Wire(
    "foxapi",
    checked="no official SDK (the `foxapi` package on PyPI wraps the Foxhole game API); FoxAPI docs (§4)",
    hosts={"api": "https://api.foxapi.cc"},
    paths={"upload": "/v1/files/upload/stream", "submit": "/v1/videos/generations", "poll": "/v1/tasks/{id}"},
    models={"lipsync-2": "lipsync-2", "lipsync-2-pro": "lipsync-2-pro", "sync-3": "sync-3"},
)

FAL = Wire(
    "fal",
    checked="fal-client 1.0.3: fal_client/auth.py (FAL_RUN_HOST), fal_client/client.py (QUEUE_URL_FORMAT, "
            "REST_URL, CDN_URL, CDNTokenManager, _upload_v3, SyncRequestHandle); endpoints from the fal docs (§5.1)",
    hosts={"api": "https://queue.fal.run", "storage": "https://rest.fal.ai", "cdn": "https://v3.fal.media"},
    paths={"token": "/storage/auth/token", "cdn_upload": "/files/upload", "submit": "/{model}",
           "status": "/{app}/requests/{id}/status", "result": "/{app}/requests/{id}",
           "cancel": "/{app}/requests/{id}/cancel"},
    models={"lipsync-1.9.0-beta": "fal-ai/sync-lipsync", "lipsync-2": "fal-ai/sync-lipsync/v2",
            "lipsync-2-pro": "fal-ai/sync-lipsync/v2/pro", "sync-3": "fal-ai/sync-lipsync/v3"},
    # v2/pro and v3 serve one model each and take no `model` field (§5.1 table)
    model_field={"lipsync-1.9.0-beta": "lipsync-1.9.0-beta", "lipsync-2": "lipsync-2"},
)

WIRES: dict[str, Wire] = {w.provider: w for w in (SYNC, RUNWARE, WAVESPEED, FOXAPI, FAL)}


def path(provider: str, operation: str, **fields: str) -> str:
    return WIRES[provider].paths[operation].format(**fields)

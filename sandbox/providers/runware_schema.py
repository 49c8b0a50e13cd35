"""Top-level fields of the Runware tasks the sandbox serves, as Runware's official SDK types them.

Vendored from runware-sdk 1.8.0, `runware/types/task_map.py` (generated from Runware's schemas
bundle 20261012233936): SyncLipsync2Params, SyncLipsync2ProParams, Sync3Params, MediaStorageParams,
ImageUploadParams, GetResponseParams, and the `models` registry (docs/providers.md §2.2, §8). The
SDK is a dev-only test dependency, so the sandbox carries this copy;
tests/conformance/test_conformance_schema.py compares it with the installed SDK field by field.

A field is (type, allowed values or None, required). Types: "string", "int", "bool", "object".
The SDK types nested objects (`inputs`, `settings`, `providerSettings`) only as objects; their
keys come from the provider's docs and are checked in runware.py / runware_inputs.py.
"""

from __future__ import annotations

from ..validation import Invalid, check_enum, check_type

SCHEMA_SOURCE = "runware-sdk 1.8.0 runware/types/task_map.py (schemas 20261012233936)"

_VIDEO_COMMON = {
    "taskType": ("string", ("videoInference",), True),
    "taskUUID": ("string", None, True),
    "inputs": ("object", None, True),
    "webhookURL": ("string", None, False),
    "includeCost": ("bool", None, False),
    "routing": ("object", None, False),
    "numberResults": ("int", None, False),
    "uploadEndpoint": ("string", None, False),
    "ttl": ("int", None, False),
    "outputType": ("string", ("URL",), False),
    "outputFormat": ("string", ("MP4", "WEBM", "MOV"), False),
    "outputQuality": ("int", None, False),
    "deliveryMethod": ("string", None, False),
    "safety": ("object", None, False),
}

#: AIR -> fields of its videoInference task; the AIR keys are the SDK registry's sync.* entries we serve
VIDEO_TASKS = {
    "sync:lipsync-2@1": dict(_VIDEO_COMMON, model=("string", ("sync:lipsync-2@1",), True),
                             providerSettings=("object", None, False)),
    "sync:lipsync-2-pro@1": dict(_VIDEO_COMMON, model=("string", ("sync:lipsync-2-pro@1",), True),
                                 providerSettings=("object", None, False)),
    "sync:3@0": dict(_VIDEO_COMMON, model=("string", ("sync:3@0",), True), settings=("object", None, False)),
}

#: taskType -> fields of the utility tasks the sandbox serves
UTILITY_TASKS = {
    "mediaStorage": {"taskType": ("string", ("mediaStorage",), True), "taskUUID": ("string", None, True),
                     "operation": ("string", None, True), "media": ("string", None, True)},
    "imageUpload": {"taskType": ("string", ("imageUpload",), True), "taskUUID": ("string", None, True),
                    "image": ("string", None, True)},
    "getResponse": {"taskType": ("string", ("getResponse",), True), "taskUUID": ("string", None, True)},
}


def check_fields(task: dict, fields: dict, where: str = "") -> None:
    """Refuse unknown fields, missing required ones, wrong types and values outside the SDK's Literal."""
    for key in task:
        if key not in fields:
            name = f"{where}.{key}" if where else key
            raise Invalid(name, "unknown", f"property {name} should not exist")
    for key, (kind, allowed, required) in fields.items():
        name = f"{where}.{key}" if where else key
        if key not in task or task[key] is None:
            if required:
                raise Invalid(name, "missing", f"{name} is required")
            continue
        check_type(task[key], name, kind)
        if allowed is not None:
            check_enum(task[key], name, allowed)

"""Host-agnostic lip-sync client: sync.so, Runware, WaveSpeedAI, FoxAPI and fal (no bpy here).

Runs as the top-level package `client` (`python -m client`) and inside Blender as
`bl_ext.<repo>.vse_lipsync.client`, so only relative imports are used within it.
"""

from .config import ENV_KEYS, MODELS, PROVIDERS, ProviderConfig, key_source, resolve_config
from .errors import (
    AuthError, Cancelled, DownloadError, InputError, JobFailed, LipsyncError, OnlineAccessDisabled,
    OutcomeUnknown, ProviderUnavailable, RateLimited, humanize,
)

__all__ = [
    "ENV_KEYS", "MODELS", "PROVIDERS", "ProviderConfig", "key_source", "resolve_config",
    "AuthError", "Cancelled", "DownloadError", "InputError", "JobFailed", "LipsyncError",
    "OnlineAccessDisabled", "OutcomeUnknown", "ProviderUnavailable", "RateLimited", "humanize",
    "Completed", "Downloading", "Failed", "JobState", "Status", "Submitted", "Submitting", "Uploaded", "Uploading",
    "ActiveSpeaker", "AudioInput", "JobRequest", "Options", "Segment", "TextInput", "new_client_key",
    "iter_job_events", "RemoteRef",
]


_MODELS = ("ActiveSpeaker", "AudioInput", "JobRequest", "Options", "Segment", "TextInput", "new_client_key")
_EVENTS = ("Completed", "Downloading", "Failed", "JobState", "Status", "Submitted", "Submitting", "Uploaded",
           "Uploading")


def __getattr__(name):
    if name in _MODELS:
        from . import models  # late: `import client.config` (Blender's register) stays light

        return getattr(models, name)
    if name in _EVENTS:
        from . import events  # late: as above (eight dataclasses, ~5 ms at import)

        return getattr(events, name)
    if name in ("iter_job_events", "RemoteRef"):
        from . import jobs  # late: the job code imports httpx and the providers (53 ms)

        return getattr(jobs, name)
    raise AttributeError(name)

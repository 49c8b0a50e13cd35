"""Host-agnostic lip-sync client: sync.so, Runware, WaveSpeedAI, FoxAPI and fal (no bpy here).

Runs as the top-level package `client` (`python -m client`) and inside Blender as
`bl_ext.<repo>.vse_lipsync.client`, so only relative imports are used within it.
"""

from .config import ENV_KEYS, MODELS, PROVIDERS, ProviderConfig, key_source, resolve_config
from .errors import (
    AuthError, Cancelled, DownloadError, InputError, JobFailed, LipsyncError, OnlineAccessDisabled,
    OutcomeUnknown, ProviderUnavailable, RateLimited, humanize,
)
from .events import (
    Completed, Downloading, Failed, JobState, Status, Submitted, Uploaded, Uploading,
)
from .models import ActiveSpeaker, AudioInput, JobRequest, Options, Segment, TextInput, new_client_key

__all__ = [
    "ENV_KEYS", "MODELS", "PROVIDERS", "ProviderConfig", "key_source", "resolve_config",
    "AuthError", "Cancelled", "DownloadError", "InputError", "JobFailed", "LipsyncError",
    "OnlineAccessDisabled", "OutcomeUnknown", "ProviderUnavailable", "RateLimited", "humanize",
    "Completed", "Downloading", "Failed", "JobState", "Status", "Submitted", "Uploaded", "Uploading",
    "ActiveSpeaker", "AudioInput", "JobRequest", "Options", "Segment", "TextInput", "new_client_key",
    "iter_job_events", "RemoteRef",
]


def __getattr__(name):
    # jobs pulls in httpx and the providers; load it only when asked for.
    if name in ("iter_job_events", "RemoteRef"):
        from . import jobs

        return getattr(jobs, name)
    raise AttributeError(name)

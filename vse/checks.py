"""What is checked on the main thread before a job is recorded: options, connection, the strip.

Each check raises the client's InputError (one sentence naming the option, strip or provider), so
a refused submit records nothing, uploads nothing and changes nothing in the scene.
"""

from __future__ import annotations

from ..client.capabilities import check_durations, validate
from ..client.config import LABELS
from ..client.errors import InputError
from ..client.models import AudioInput, JobRequest, Options
from ..client.urls import check_url
from ..preferences import provider_config


def check_options(provider: str, model: str, options: dict) -> None:
    """The client's own validation of `options` for provider x model, on a stand-in request."""
    validate(JobRequest(provider=provider, model=model, video="video.mp4",
                        audio=[AudioInput(id="a1", path="a1.mp3")], options=Options(**options)))


def check_connection(provider: str) -> None:
    """The base URL must be https, or http to this computer (the client's own rule), checked
    before anything is recorded rather than on the first request in a worker."""
    config = provider_config(provider)
    if config.base_url:
        check_url(config.base_url, "base URL", provider)


def check_strip_job(strip_job, provider, model, options, segment_overrides=None) -> None:
    """What can only be checked against the strip: the provider's length limit, the speaker
    point against the picture and the uploaded frames."""
    video = strip_job.video
    longest_part = max((p.duration for p in strip_job.audio), default=None)
    check_durations(provider, model, video.duration, longest_part)
    name = strip_job.placement.source_strip
    speakers = [options.get("active_speaker") or {}]
    speakers += [(o or {}).get("active_speaker") or {} for o in (segment_overrides or {}).values()]
    for speaker in speakers:
        if speaker.get("frame") is not None and speaker["frame"] >= video.frames:
            raise InputError(f'speaker frame {speaker["frame"]} is after the end: "{name}" uploads '
                             f"{video.frames} frames (0..{video.frames - 1})", provider)
        point = speaker.get("point")
        if point is not None and video.width and video.height and not (
                0 <= point[0] < video.width and 0 <= point[1] < video.height):
            raise InputError(f"speaker point ({point[0]}, {point[1]}) is outside the {video.width}x{video.height} "
                             f'picture of "{name}" ({model} on {LABELS[provider]})', provider)

"""What is checked on the main thread before a job is recorded: options, connection, the strip.

Each check raises the client's InputError (one sentence naming the option, strip or provider), so
a refused submit records nothing, uploads nothing and changes nothing in the scene.
"""

from __future__ import annotations

from ..client.capabilities import check_durations, validate
from ..client.config import LABELS
from ..client.errors import InputError
from ..client.models import AudioInput, JobRequest, Options, Segment
from ..client.speech import ONE_SOURCE
from ..client.urls import check_url
from ..preferences import provider_config
from ..worker import speech


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
    if strip_job.text:
        check_lines(strip_job, provider, model, options)


def check_lines(strip_job, provider, model, options) -> None:
    """The spoken lines (issue 17) as the worker will send them (worker/speech.py), through the
    client's validation: empty text, too long, no voice, no TTS on the model, text and audio over
    one range. The strip is named in the sentence; nothing is recorded when it refuses."""
    with_audio = bool(strip_job.audio)
    first = strip_job.text[0]
    if provider in ONE_SOURCE and not with_audio and len(strip_job.text) == 1 and speech.needs_segments(
            strip_job, False):
        # Runware sync-3 takes speech or segments, and its segments play only audio files (§2.3)
        start = strip_job.placement.frame_start - strip_job.placement.handle_start
        raise InputError(f'the Text strip "{first.strip_name}" starts {first.frame_start - start} frame(s) into '
                         f'"{strip_job.placement.source_strip}"; {model} on {LABELS[provider]} speaks a line from '
                         f"the start of the upload only, not text inputs placed later: move it to frame {start} "
                         "(no handles), or use sync.so", provider)
    audio = [AudioInput(id=f"a{n}", path=f"a{n}.mp3") for n, _p in enumerate(strip_job.audio, 1)]
    segments = []
    if speech.needs_segments(strip_job, with_audio):
        segments = [Segment(start=p.video_offset, end=p.video_offset + p.duration, audio_id=f"a{n}")
                    for n, p in enumerate(strip_job.audio, 1)]
        segments += speech.text_segments(strip_job, strip_job.video.duration)
    request = JobRequest(provider=provider, model=model, video="video.mp4", audio=audio,
                         text=speech.text_inputs(strip_job), segments=segments, options=Options(**options))
    names = {f"t{n}": t.strip_name for n, t in enumerate(strip_job.text, 1)}
    try:
        validate(request)
    except InputError as exc:
        message = exc.message
        for ident, strip in names.items():   # "text input 't1'" -> the Text strip's name
            message = message.replace(f"text input {ident!r}", f'the Text strip "{strip}"')
        raise InputError(f'"{strip_job.placement.source_strip}": {message}', provider) from None

"""The provider's own price of planned jobs (sync.so `POST /v2/analyze/cost`, docs/providers.md §1.2).

WORKER THREAD, no bpy: cut each job's media, ask the provider, sum. Uploads go through the
client's upload cache, so the real submit does not send the same files again.
"""

from __future__ import annotations

import shutil

from ..client.config import ProviderConfig
from ..client.errors import humanize
from ..client.models import JobRequest, Options, new_client_key
from . import media


def provider_estimate(planned, provider: str, model: str, options: dict, config: ProviderConfig,
                      work_root: str, result: dict) -> None:
    """Fill `result` with {"usd": total} or {"error": one sentence}; never raises."""
    # Late import: the job code pulls in httpx (see worker/work.py); only this thread needs it.
    from ..client.jobs import remote_estimate

    total = 0.0
    try:
        for index, job in enumerate(planned):
            work = f"{work_root}_{index}"
            try:
                prepared = media.prepare_media(job, work, use_segments=True)
                request = JobRequest(provider=provider, model=model, video=prepared.video_path,
                                     audio=prepared.audio, text=prepared.text, segments=prepared.segments,
                                     options=Options(**options), client_key=new_client_key())
                usd = remote_estimate(request, config)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if usd is None:
                result["error"] = "the provider has no cost endpoint"
                return
            total += float(usd)
        result["usd"] = total
    except Exception as exc:  # noqa: BLE001 - shown in the panel as one sentence
        result["error"] = humanize(exc)

"""Prices per provider x model (the reference's figures, in one table) and duration estimates.

Billing basis differs: sync.so bills output frames (§1.13), Runware lipsync-2 bills seconds of
audio (§2.2), fal quotes per minute (§5.1, basis [U]: we apply it to output seconds). Where the
reference has no figure the estimate says so (usd=None) instead of guessing.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .capabilities import all_caps, caps

# (usd per second or None, basis "output" | "audio", source note)
PRICES: dict[tuple[str, str], tuple[float | None, str, str]] = {
    # sync.so Creator-plan rates (Scale plan is ~20% lower), per output second @25 fps (§1.13)
    ("sync", "lipsync-1.9.0-beta"): (0.025, "output", "sync.so Creator rate; Scale $0.02/s"),
    ("sync", "lipsync-2"): (0.05, "output", "sync.so Creator rate; Scale $0.04/s"),
    ("sync", "lipsync-2-pro"): (0.083, "output", "sync.so Creator rate; Scale $0.067/s"),
    ("sync", "sync-3"): (0.133, "output", "sync.so Creator rate; Scale $0.107/s"),
    ("runware", "lipsync-2"): (0.044, "audio", "Runware $0.0440 per second of audio"),
    ("runware", "lipsync-2-pro"): (None, "audio", "Runware price not published in the reference"),
    ("runware", "sync-3"): (None, "audio", "Runware price not published in the reference"),
    ("wavespeed", "lipsync-1.9.0-beta"): (None, "output", "WaveSpeedAI price not in the reference"),
    ("wavespeed", "lipsync-2"): (None, "output", "WaveSpeedAI price not in the reference"),
    ("wavespeed", "lipsync-2-pro"): (None, "output", "WaveSpeedAI price not in the reference"),
    ("wavespeed", "sync-3"): (None, "output", "WaveSpeedAI price not in the reference"),
    ("foxapi", "lipsync-2"): (None, "output", "FoxAPI bills credits per second; $ rate not in the reference"),
    ("foxapi", "lipsync-2-pro"): (None, "output", "FoxAPI bills credits per second; $ rate not in the reference"),
    ("foxapi", "sync-3"): (None, "output", "FoxAPI bills credits per second; $ rate not in the reference"),
    ("fal", "lipsync-1.9.0-beta"): (0.70 / 60, "output", "fal $0.70/min"),
    ("fal", "lipsync-2"): (3.0 / 60, "output", "fal $3/min"),
    ("fal", "lipsync-2-pro"): (5.0 / 60, "output", "fal $5/min (third-party figure)"),
    ("fal", "sync-3"): (8.0 / 60, "output", "fal $8/min"),
}


@dataclasses.dataclass(frozen=True)
class Estimate:
    usd: float | None
    billed_seconds: float
    note: str


def output_seconds(sync_mode: str | None, video_seconds: float, audio_seconds: float) -> float:
    """Length of the result for a sync mode (docs/providers.md §4.2 table, §1.16)."""
    mode = sync_mode or "cut_off"
    if mode == "cut_off":
        return min(video_seconds, audio_seconds)
    if mode == "silence":
        return video_seconds
    return audio_seconds  # bounce, loop, remap follow the audio


def price_info(provider: str, model: str) -> dict:
    rate, basis, note = PRICES[(provider, model)]
    return {"usd_per_second": rate, "basis": basis, "note": note}


def estimate(provider: str, model: str, video_seconds: float, audio_seconds: float,
             sync_mode: str | None = None, number_results: int = 1) -> Estimate:
    c = caps(provider, model)
    mode = sync_mode or c.default_sync_mode
    rate, basis, note = PRICES[(provider, model)]
    out = output_seconds(mode, video_seconds, audio_seconds)
    billed = (audio_seconds if basis == "audio" else out) * max(1, number_results)
    usd = None if rate is None else round(rate * billed, 4)
    text = f"{billed:.2f} s billed ({basis} seconds, sync_mode {mode}); {note}"
    return Estimate(usd=usd, billed_seconds=round(billed, 3), note=text)


def capability_table() -> list[dict[str, Any]]:
    """One row per provider x model with its price: JSON-safe, used by `python -m client providers`."""
    return [{"provider": c.provider, "model": c.model, "remote_model": c.remote_model,
             "sync_modes": list(c.sync_modes), "default_sync_mode": c.default_sync_mode,
             "options": sorted(c.options), "price": price_info(c.provider, c.model)} for c in all_caps()]

"""Provider and model names, and how each provider is called in a sentence: one table for all.

A leaf module (no imports), so errors, config, capabilities and the Blender preferences share it.
"""

PROVIDERS: tuple[str, ...] = ("sync", "runware", "wavespeed", "foxapi", "fal")
MODELS: tuple[str, ...] = ("lipsync-1.9.0-beta", "lipsync-2", "lipsync-2-pro", "sync-3")

LABELS: dict[str, str] = {
    "sync": "sync.so",
    "runware": "Runware",
    "wavespeed": "WaveSpeedAI",
    "foxapi": "FoxAPI",
    "fal": "fal",
}

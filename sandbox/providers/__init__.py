"""One module per provider; each speaks its real protocol under `/<provider>` (docs/providers.md §1-§5)."""

from __future__ import annotations

import importlib

MODULES = {"sync": "SyncProvider", "runware": "RunwareProvider", "wavespeed": "WaveSpeedProvider",
           "foxapi": "FoxApiProvider", "fal": "FalProvider"}


def make_providers(state) -> dict:
    out = {}
    for name, cls in MODULES.items():
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            continue
        out[name] = getattr(module, cls)(state)
    return out

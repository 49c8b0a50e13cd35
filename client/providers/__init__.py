"""One module per provider, all speaking the small protocol in `base`."""

from __future__ import annotations

import importlib

from .base import PollResult, Provider, RemoteRef


#: provider name -> (module, class); each module is imported only when its provider is used
_CLASSES = {
    "sync": ("sync", "SyncProvider"),
    "runware": ("runware", "RunwareProvider"),
    "wavespeed": ("wavespeed", "WaveSpeedProvider"),
    "foxapi": ("foxapi", "FoxApiProvider"),
    "fal": ("fal", "FalProvider"),
}


def provider_class(name: str) -> type[Provider]:
    module, cls = _CLASSES[name]
    return getattr(importlib.import_module(f".{module}", __name__), cls)


__all__ = ["PollResult", "Provider", "RemoteRef", "provider_class"]

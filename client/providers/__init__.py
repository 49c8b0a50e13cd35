"""One module per provider, all speaking the small protocol in `base`."""

from __future__ import annotations

from .base import PollResult, Provider, RemoteRef


def provider_class(name: str) -> type[Provider]:
    from . import fal, foxapi, runware, sync, wavespeed

    return {
        "sync": sync.SyncProvider,
        "runware": runware.RunwareProvider,
        "wavespeed": wavespeed.WaveSpeedProvider,
        "foxapi": foxapi.FoxApiProvider,
        "fal": fal.FalProvider,
    }[name]


__all__ = ["PollResult", "Provider", "RemoteRef", "provider_class"]

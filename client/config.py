"""Provider names, key/env-var conventions and the per-provider connection config.

The API key lives only in `ProviderConfig.api_key`; `repr()` hides it and every error message is
scrubbed of it (errors.register_secret), so configs can be logged and stored safely.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from .endpoints import WIRES
from .errors import register_secret
from .names import LABELS, MODELS, PROVIDERS  # noqa: F401 - the names, re-exported


ENV_KEYS: dict[str, str] = {
    "sync": "SYNC_API_KEY",
    "runware": "RUNWARE_API_KEY",
    "wavespeed": "WAVESPEED_API_KEY",
    "foxapi": "FOXAPI_API_KEY",
    "fal": "FAL_KEY",
}

# The hosts of each provider, by role (client/endpoints.py, docs/providers.md §0): "api" for all,
# plus fal's storage-token and CDN hosts. A base-URL override replaces every one of them (paths
# unchanged).
HOSTS: dict[str, dict[str, str]] = {name: dict(wire.hosts) for name, wire in WIRES.items()}
DEFAULT_BASE_URLS: dict[str, str] = {name: hosts["api"] for name, hosts in HOSTS.items()}



def base_url_env(provider: str) -> str:
    return f"LIPSYNC_{provider.upper()}_BASE_URL"


@dataclasses.dataclass(frozen=True)
class ProviderConfig:
    """Where and as whom to talk to one provider. `base_url=None` means the real hosts."""

    provider: str
    api_key: str = dataclasses.field(repr=False)
    base_url: str | None = None

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise ValueError(f"unknown provider {self.provider!r}; expected one of {', '.join(PROVIDERS)}")
        if self.base_url is not None:
            object.__setattr__(self, "base_url", self.base_url.rstrip("/") or None)
        register_secret(self.api_key)

    def __repr__(self) -> str:
        key = "set" if self.api_key else "missing"
        return f"ProviderConfig(provider={self.provider!r}, api_key=<{key}>, base_url={self.base_url!r})"

    __str__ = __repr__

    def host(self, role: str = "api") -> str:
        """The URL prefix for one of the provider's hosts; the override maps them all to one base."""
        if self.base_url:
            return self.base_url
        return HOSTS[self.provider][role]

    def url(self, path: str, role: str = "api") -> str:
        return self.host(role) + path


def resolve_config(
    provider: str,
    pref_key: str = "",
    pref_base_url: str = "",
    environ: Mapping[str, str] | None = None,
) -> ProviderConfig:
    """Build the config for `provider`: environment variables win over preference values."""
    env = os.environ if environ is None else environ
    key = env.get(ENV_KEYS[provider], "").strip() or (pref_key or "").strip()
    base = env.get(base_url_env(provider), "").strip() or (pref_base_url or "").strip()
    return ProviderConfig(provider=provider, api_key=key, base_url=base or None)


def key_source(provider: str, pref_key: str = "", environ: Mapping[str, str] | None = None) -> str:
    """Where the key for `provider` comes from: "env:<VAR>", "preferences" or "missing"."""
    env = os.environ if environ is None else environ
    var = ENV_KEYS[provider]
    if env.get(var, "").strip():
        return f"env:{var}"
    if (pref_key or "").strip():
        return "preferences"
    return "missing"

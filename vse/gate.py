"""Why a network action cannot run now: online access, the provider's key. One sentence or "".

Blender does not enforce `bpy.app.online_access` for add-ons (docs/blender.md §5): we check it
before any HTTP call, and every poll() and greyed button says how to turn it on. The reasons are
pure functions (Rhubarb NG's `disabled_reason` pattern); `poll_*` wrap them for poll().
"""

from __future__ import annotations

import bpy

from ..client.config import ENV_KEYS, LABELS
from ..preferences import key_source

OFFLINE_MESSAGE = ("Online access is off: enable Preferences > System > Network > "
                   "Allow Online Access (or start Blender with --online-mode)")


def online_access() -> bool:
    return bool(getattr(bpy.app, "online_access", True))


def missing_key_message(provider: str) -> str:
    return (f"No API key for {LABELS.get(provider, provider)}: set the environment variable "
            f"{ENV_KEYS[provider]} or type the key in the add-on preferences")


def has_key(provider: str) -> bool:
    return key_source(provider) != "missing"


def network_reason(provider: str | None) -> str:
    """"" when a job for `provider` may talk to the network now, else the sentence saying why not."""
    if not online_access():
        return OFFLINE_MESSAGE
    if provider and not has_key(provider):
        return missing_key_message(provider)
    return ""


def poll_online(cls) -> bool:
    """For use inside an operator's poll(): False with the explanation when offline."""
    if online_access():
        return True
    cls.poll_message_set(OFFLINE_MESSAGE)
    return False


def poll_network(cls, scene, provider: str | None = None) -> bool:
    """poll() for every operator that talks to a provider: online access, then the key."""
    if scene is None:
        return False
    why = network_reason(provider or scene.lipsync.provider)
    if why:
        cls.poll_message_set(why)
        return False
    return True

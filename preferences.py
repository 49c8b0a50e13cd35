"""Add-on preferences: API keys, base URL overrides, defaults, concurrency.

Preferences live in Blender's userpref.blend, never in a project .blend, so a key typed here
does not travel with the artist's files. Environment variables win over the fields (a pipeline
TD sets them once for a farm); the panel says which source is in use, never the key itself.
"""

import os

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty, StringProperty

from .client import config as client_config

_DESCRIPTIONS = {
    "sync": "sync. labs' own API (direct)",
    "runware": "sync. models through Runware",
    "wavespeed": "sync. models through WaveSpeedAI",
    "foxapi": "sync. models through FoxAPI (task-unified API)",
    "fal": "sync. models through fal",
}
LABELS = client_config.LABELS

PROVIDER_ITEMS = [(p, LABELS[p], _DESCRIPTIONS[p]) for p in client_config.PROVIDERS]
MODEL_ITEMS = [(m, m, f"sync. labs {m}") for m in client_config.MODELS]


def _key(provider):
    return StringProperty(
        name="API Key", subtype="PASSWORD",
        description=f"{LABELS[provider]} API key. "
                    f"The environment variable {client_config.ENV_KEYS[provider]} takes precedence")


def _base_url(provider):
    return StringProperty(
        name="Base URL",
        description=f"Replaces every {LABELS[provider]} host (API, uploads, storage); empty = official "
                    f"service. {client_config.base_url_env(provider)} takes precedence")


class LIPSYNC_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    sync_api_key: _key("sync")
    sync_base_url: _base_url("sync")
    runware_api_key: _key("runware")
    runware_base_url: _base_url("runware")
    wavespeed_api_key: _key("wavespeed")
    wavespeed_base_url: _base_url("wavespeed")
    foxapi_api_key: _key("foxapi")
    foxapi_base_url: _base_url("foxapi")
    fal_api_key: _key("fal")
    fal_base_url: _base_url("fal")

    max_concurrent_jobs: IntProperty(
        name="Max Concurrent Jobs", min=1, max=16, default=3,
        description="Jobs a batch runs at once; keep at or below your provider plan's concurrency limit")
    budget_cap_usd: FloatProperty(
        name="Budget Cap (USD)", min=0.0, default=0.0,
        description="A batch whose estimate exceeds this asks for confirmation first; 0 = no cap")
    notify_sound: BoolProperty(
        name="Sound When Done", default=False,
        description="Play a short chime when a lip-sync batch you are waiting for ends")
    default_voice: StringProperty(
        name="Default Voice",
        description="ElevenLabs (or sync.so cloned) voice id that Text strips speak with when the panel "
                    "names none (not a secret; saved with the preferences)")

    def draw(self, context):
        layout = self.layout
        col = layout.column()
        col.prop(self, "max_concurrent_jobs")
        col.prop(self, "budget_cap_usd")
        col.prop(self, "notify_sound")
        col.prop(self, "default_voice")
        for provider in client_config.PROVIDERS:
            box = layout.box()
            box.label(text=LABELS[provider])
            source = key_source(provider, self)
            row = box.row()
            row.active = not source.startswith("env:")
            row.prop(self, f"{provider}_api_key")
            box.label(text=_describe_key_source(provider, source),
                      icon="CHECKMARK" if source != "missing" else "ERROR")
            env_url = client_config.base_url_env(provider)
            row = box.row()
            row.active = env_url not in _environ()
            row.prop(self, f"{provider}_base_url")
            if env_url in _environ():
                box.label(text=f"Base URL from {env_url}", icon="INFO")


def _environ():
    return os.environ


def _describe_key_source(provider, source):
    if source.startswith("env:"):
        return f"Using the key from the environment variable {source[4:]}"
    if source == "preferences":
        return "Using the key from these preferences"
    return f"No key: type one above or set {client_config.ENV_KEYS[provider]}"


def get_prefs(context=None):
    context = context or bpy.context
    return context.preferences.addons[__package__].preferences


def key_source(provider, prefs=None):
    prefs = prefs or get_prefs()
    return client_config.key_source(provider, getattr(prefs, f"{provider}_api_key"), _environ())


def provider_config(provider, prefs=None):
    """The client's ProviderConfig for `provider`: env vars first, then these preferences."""
    prefs = prefs or get_prefs()
    return client_config.resolve_config(
        provider, pref_key=getattr(prefs, f"{provider}_api_key"),
        pref_base_url=getattr(prefs, f"{provider}_base_url"), environ=_environ())


classes = (LIPSYNC_AP_preferences,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

"""PropertyGroups saved in the .blend: the scene's lip-sync settings.

Never holds an API key: keys live in the add-on preferences (userpref.blend) or env vars.
"""

import bpy
from bpy.props import EnumProperty, PointerProperty

from .preferences import MODEL_ITEMS, PROVIDER_ITEMS


class LipsyncSceneSettings(bpy.types.PropertyGroup):
    provider: EnumProperty(name="Provider", items=PROVIDER_ITEMS, default="sync")
    model: EnumProperty(name="Model", items=MODEL_ITEMS, default="lipsync-2")


classes = (LipsyncSceneSettings,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.lipsync = PointerProperty(type=LipsyncSceneSettings)


def unregister():
    del bpy.types.Scene.lipsync
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

"""Sidebar panels, lists and menus: draw only, never compute or do I/O."""

classes = ()


def register():
    import bpy
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    import bpy
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

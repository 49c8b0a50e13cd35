"""Operators: thin layers that snapshot RNA, hand plain data to client/ in workers, apply results."""

classes = ()


def register():
    import bpy
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    import bpy
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

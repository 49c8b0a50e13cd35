"""Operators: thin layers that snapshot RNA, hand plain data to client/ in workers, apply results.

Registering imports no client module that pulls httpx or the job code (they load on first use) and
starts no thread: the runtime's workers exist only while jobs run.
"""

from . import abswitch, costs, manage, reattach, rerun, results, segments, speaker, submit

classes = (*submit.classes, *manage.classes, *segments.classes, *speaker.classes, *rerun.classes,
           *abswitch.classes, *costs.classes)
_handler_modules = (results, reattach, segments, abswitch)


def register():
    import bpy
    for cls in classes:
        bpy.utils.register_class(cls)
    for module in _handler_modules:
        module.register()


def unregister():
    import bpy
    from .runtime import RUNTIME
    for module in reversed(_handler_modules):
        module.unregister()
    # Stop following (remote jobs go on; their records re-attach next time the file opens).
    RUNTIME.shutdown(timeout=0.5)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

"""Operators: `bpy.types.Operator` classes only, one noun per module, thin glue over vse/.

Registering imports no module that pulls httpx or the job code (worker threads load those at
first use) and starts no thread: the runtime's workers exist only while jobs run.
"""

import bpy

from ..worker.runtime import RUNTIME
from . import estimate, jobs, segments, speaker, submit, takes

classes = (*submit.classes, *jobs.classes, *takes.classes, *segments.classes, *speaker.classes,
           *estimate.classes)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    takes.register_keymap()


def unregister():
    takes.unregister_keymap()
    # Stop following (remote jobs go on; their records re-attach next time the file opens).
    RUNTIME.shutdown(timeout=0.5)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

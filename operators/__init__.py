"""Operators: `bpy.types.Operator` classes only, one noun per module, thin glue over vse/.

Registering imports no module that pulls httpx or the job code (each operator loads it when it
first runs, docs/architecture.md "Start-up") and starts no thread: the runtime's workers exist
only while jobs run.
"""

import sys

import bpy

from . import estimate, jobs, segments, speaker, submit, takes

classes = (*submit.classes, *jobs.classes, *takes.classes, *segments.classes, *speaker.classes,
           *estimate.classes)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    takes.register_keymap()


def unregister():
    takes.unregister_keymap()
    # Stop following (remote jobs go on; their records re-attach next time the file opens). A
    # runtime never imported ran no job (docs/architecture.md "Start-up").
    runtime = sys.modules.get(f"{__package__.rpartition('.')[0]}.worker.runtime")
    if runtime is not None:
        runtime.RUNTIME.shutdown(timeout=0.5)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

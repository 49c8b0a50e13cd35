"""WORKER THREADS: everything that runs off Blender's main thread. Never imports bpy.

The main thread (vse/) snapshots RNA into the plain plan of `plan.py`, wraps it in a frozen
`work.WorkOrder` and hands it to `runtime.RUNTIME`; a worker thread runs `work.run` (media
preparation, fingerprints, then client/'s job generator) and talks back only through the small
frozen events of `events.py`. docs/architecture.md describes the whole flow.

Relative imports only (`..client` for the host-agnostic core), so the package works inside
Blender (`bl_ext.<repo>.vse_lipsync.worker`) and from any host that imports the extension's
folder as a package without Blender.
"""

"""VSE Lipsync: lip-sync sequencer video strips to dialogue strips through hosted models.

register()/unregister() only. Registering does no network and imports neither httpx nor the
job code: those load at first use (docs/architecture.md "Start-up"). The modules that need
bpy are imported by register(), so the package itself (client/, worker/) can be imported by a
host without Blender (docs/architecture.md).
"""

_modules = ()


def register():
    global _modules
    # late: Blender's modules load here, so importing the package (client/, worker/) needs no bpy
    from . import operators, panels, preferences, props
    from .vse import handlers  # late: as above

    _modules = (preferences, props, operators, panels, handlers)
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()

"""VSE Lipsync: lip-sync sequencer video strips to dialogue strips through hosted models.

register()/unregister() only. Registering does no network and imports neither httpx nor the
client's job code: those load the first time a job runs.
"""

# Blender always imports this file as a package (bl_ext.<repo>.vse_lipsync). pytest, collecting the
# repo root, may import it as a loose `__init__` module when the clone's folder name is not a valid
# module name (e.g. /tmp/fresh-1023); there are no relative imports to resolve then.
if __package__:
    from . import operators, panels, preferences, props

    _modules = (preferences, props, operators, panels)


def register():
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()

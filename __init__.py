"""VSE Lipsync: lip-sync sequencer video strips to dialogue strips through hosted models.

register()/unregister() only. Registering does no network and imports neither httpx nor
pydantic: those load the first time a job runs.
"""

from . import operators, panels, preferences, props

_modules = (preferences, props, operators, panels)


def register():
    for module in _modules:
        module.register()


def unregister():
    for module in reversed(_modules):
        module.unregister()

"""Load the add-on into real bpy as an extension from the source tree.

Recipe from reference/blender.md §6 and "Recommended test strategy": a local extension repo
whose folder holds a `vse_lipsync` symlink to the repo root, then `addon_enable`. Tests reset
data with `read_homefile(use_empty=True)` (read_factory_settings would drop the repo and
disable the add-on) and the add-on is disabled at session end, which removes timers and modal
handlers (4.5 hangs at exit otherwise).
"""

from addon_fixtures import addon, addon_prefs, clean_env, online, scene  # noqa: F401 - fixtures

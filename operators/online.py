"""The online-access gate every network operator polls through.

Blender does not enforce `bpy.app.online_access` for add-ons (reference/blender.md §5): we must
check it before any HTTP call, and say in the poll message how to turn it on.
"""

import bpy

OFFLINE_MESSAGE = ("Online access is off: enable Preferences > System > Network > "
                   "Allow Online Access (or start Blender with --online-mode)")


def online_access():
    return bool(getattr(bpy.app, "online_access", True))


def poll_online(cls):
    """For use inside an operator's poll(): False with the explanation when offline."""
    if online_access():
        return True
    cls.poll_message_set(OFFLINE_MESSAGE)
    return False

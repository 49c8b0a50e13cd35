"""Strips longer than the provider takes (docs/architecture.md, "Ranges and handles"), in real bpy
against the sandbox over HTTP. The provider's limit is lowered to 1 s (LIPSYNC_SYNC_MAX_SECONDS,
the knob for plans with other limits) so a 1.92 s strip stands for a 10-minute one: refused with
the way out named; with "Split Long Strips" on, sent as pieces under the limit with handles,
placed end to end so every timeline frame shows the source frame it showed.
"""

import bpy
import pytest

from tests.fixtures.addon import lipsync
from tests.blender.test_beyond_frames import FIRST, RANGE, shot, shown_source_frames  # noqa: F401 (fixture)
from tests.fixtures.workflow import takes, use_sandbox, visible


def test_long_strip_refused_with_the_way_out(addon, scene, online, clean_env, sandbox, shot):  # noqa: F811
    use_sandbox(clean_env, sandbox, "sync")
    clean_env.setenv("LIPSYNC_SYNC_MAX_SECONDS", "1.0")
    with pytest.raises(RuntimeError, match=r'lasts 1\.9 s .* turn on "Split Long Strips" .* as 2 pieces'):
        bpy.ops.lipsync.submit()
    assert len(scene.lipsync.jobs) == 0 and sandbox.stats()["requests"] == 0


def test_long_strip_split_into_pieces_with_handles(addon, scene, online, clean_env, sandbox, shot):  # noqa: F811
    use_sandbox(clean_env, sandbox, "sync")
    clean_env.setenv("LIPSYNC_SYNC_MAX_SECONDS", "1.0")
    scene.lipsync.split_long = True
    scene.lipsync.handles = 3                    # 25 frames a job at most: pieces of 19 + 2 x 3 handles
    assert bpy.ops.lipsync.submit() == {"FINISHED"}
    recs = list(scene.lipsync.jobs)
    assert [r.status for r in recs] == ["COMPLETED"] * 3, [r.message for r in recs]
    assert len({r.group for r in recs}) == 1 and recs[0].group
    uploads = [job["inputs"]["video"]["frames"] for job in sandbox.stats()["jobs"]]
    assert len(uploads) == 3 and all(frames <= 25 for frames in uploads), uploads
    pieces = sorted(takes(scene), key=lambda t: visible(t)[0])
    spans = [visible(t) for t in pieces]
    assert spans == [(16, 32), (32, 48), (48, 64)], spans          # end to end, exactly the strip
    shown = {}
    for take in pieces:
        assert not take.mute
        shown.update(shown_source_frames(addon, take))
    wrong = [f for f in range(*RANGE) if shown.get(f) != f - FIRST]
    print(f"\nLONG {bpy.app.version_string}: {len(shown)} frames compared, {len(wrong)} mismatches, "
          f"uploads {uploads}")
    assert not wrong
    fills = [s for s in lipsync("vse.compat").strips_all(scene.sequence_editor) if s.lipsync.is_fill]
    assert not fills                             # the pieces leave no gap to fill

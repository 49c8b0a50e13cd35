"""Every problem reaches the artist (docs/architecture.md, "What the artist is told"): each
refusal of a batch and each note of a placed take is its own line of the Info log (operator
reports), the summary names the first and says where the rest are, the status line counts jobs
with problems, and the record keeps its notes for the panel.
"""

import bpy

from tests.blender import take_kit as K
from tests.fixtures.addon import lipsync
from tests.fixtures.workflow import add_shot, fake_operator, strips_of, use_sandbox


def test_batch_reports_every_refusal(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")))
    silent = []
    for i in range(3):        # movies with no dialogue under them: each refused with its reason
        strip = strips_of(scene).new_movie(name=f"silent{i}", filepath=movie.filepath, channel=2,
                                           frame_start=400 + 100 * i)
        strip.select = True
        silent.append(strip.name)
    Op = lipsync("operators.submit").LIPSYNC_OT_submit_selected
    fake = fake_operator(Op, provider="sync", model="lipsync-2", sync_mode="", _selected=4)
    assert fake._begin(bpy.context, modal=False) == {"FINISHED"}
    lines = [text for _level, text in fake.reports]
    for name in silent:       # each refusal on its own line, none folded into "(+2 more)"
        assert sum(line.startswith(f"{name}: ") for line in lines) == 1, lines
    summary = fake.reports[-1]
    assert summary[0] == {"WARNING"} and summary[1].startswith("1 done, 3 failed: silent0: "), summary
    assert "all 3 problems are listed in the Info log" in summary[1] and "more)" not in summary[1]


def test_nothing_started_lists_every_refusal(addon, scene, online, clean_env, sandbox, tmp_path_factory):
    use_sandbox(clean_env, sandbox, "sync")
    movie = add_shot(addon, scene, str(tmp_path_factory.mktemp("media")), select=False)
    for i in range(4):
        strips_of(scene).new_movie(name=f"silent{i}", filepath=movie.filepath, channel=2,
                                   frame_start=400 + 100 * i).select = True
    Op = lipsync("operators.submit").LIPSYNC_OT_submit_selected
    fake = fake_operator(Op, provider="sync", model="lipsync-2", sync_mode="", _selected=4)
    assert fake._begin(bpy.context, modal=False) == {"CANCELLED"}
    lines = [text for _level, text in fake.reports]
    assert all(sum(line.startswith(f"silent{i}: ") for line in lines) == 1 for i in range(4)), lines
    assert "None of the 4 selected strips" in lines[-1] and "all 4 are listed" in lines[-1]


def test_take_notes_reach_record_status_line_and_summary(addon, tmp_path):
    media = K.make_media(str(tmp_path))
    scene = K.shot_scene()
    K.background(scene, media)
    src = K.add_source(scene, media)
    rec = K.record(scene, src)
    progress = lipsync("vse.notices").Progress([rec.job_id])
    K.timing(src, "frame_start", K.timing(src, "frame_start") + 3)     # moved during the job
    rec = K.finish(rec, [media.short])                                   # and 15 frames short
    notes = rec.notes.splitlines()
    assert len(notes) == 2 and "moved +3" in notes[0] and "15 frame(s) shorter" in notes[1], notes
    assert all(note in rec.message for note in notes)                    # the panel draws both
    assert "1 with problems" in progress.line(), progress.line()
    progress.close()
    notices = lipsync("vse.notices")
    level, text = notices.summarize([rec.job_id])
    assert level == "WARNING" and text.startswith("1 done (1 with notes): Src: "), text
    assert notices.problems([rec.job_id]) == [f"Src: {n}" for n in notes]

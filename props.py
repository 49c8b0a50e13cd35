"""PropertyGroups saved in the .blend: the scene's lip-sync settings, job records, segments, takes.

Never holds an API key: keys live in the add-on preferences (userpref.blend) or env vars. The
idempotency key / Runware taskUUID (`client_key`) is not a secret and is saved on purpose: a job
re-submitted with the same key after a crash is de-duplicated by the provider (docs/architecture.md, step 2).

Visible state lives here (docs/architecture.md): vse/apply.py writes status/progress/message into the job
records on the main thread and the panels only draw them. The JSON fields of a job record are
read and written only through vse/records.py (JobRecord).
"""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, IntProperty,
                       IntVectorProperty, PointerProperty, StringProperty)

from .preferences import MODEL_ITEMS, PROVIDER_ITEMS
from .vse import segments
from .vse.status import REMOTE_STATE_ITEMS, STATUS_ITEMS

SYNC_MODE_ITEMS = [
    ("DEFAULT", "Provider Default", "Use the provider's default for this model"),
    ("cut_off", "Cut Off", "Stop at the shorter of video and audio"),
    ("bounce", "Bounce", "Play the video back and forth to fit the audio"),
    ("loop", "Loop", "Loop the video to fit the audio"),
    ("silence", "Silence", "Pad the audio with silence to the video's length"),
    ("remap", "Remap", "Retime the video to the audio's length"),
]
EMOTION_ITEMS = [("NONE", "None", "No emotion hint")] + [
    (e, e.title(), f"Emotion hint: {e}") for e in ("happy", "sad", "angry", "disgusted", "surprised", "neutral")]
FACE_MODE_ITEMS = [("NONE", "Default", "The model's default region"),
                   ("lips", "Lips", "Animate the lips only"),
                   ("face", "Face", "Animate the face"),
                   ("head", "Head", "Animate the head")]
SPEAKER_ITEMS = [
    ("NONE", "Off", "Let the model pick the face"),
    ("AUTO", "Auto-detect", "Ask the provider to detect the active speaker"),
    ("POINT", "Pick Point", "A point on the speaker's face on one frame"),
]


def _estimate_update(self, context):
    segments.mark_dirty(self.id_data)   # the scene these settings belong to; refreshed off the draw path


class LipsyncSegment(bpy.types.PropertyGroup):
    """One overlapping sound strip of the active movie strip: a row in the Segments list."""

    # name = the sound strip's name (unique per scene)
    enabled: BoolProperty(name="Use", default=True, description="Include this dialogue strip in the job",
                          update=_estimate_update)
    video_start: FloatProperty(name="Start", unit="TIME_ABSOLUTE", description="Seconds into the video")
    video_end: FloatProperty(name="End", unit="TIME_ABSOLUTE", description="Seconds into the video")
    audio_start: FloatProperty(name="Audio Start", unit="TIME_ABSOLUTE",
                               description="Seconds into the sound file")
    audio_end: FloatProperty(name="Audio End", unit="TIME_ABSOLUTE", description="Seconds into the sound file")
    use_speaker_point: BoolProperty(name="Own Speaker", description="A speaker point just for this segment")
    speaker_frame: IntProperty(name="Frame", min=0, description="Frame of the uploaded video")
    speaker_point: IntVectorProperty(name="Point", size=2, min=0,
                                     description="Pixel of the speaker's face in the source video")
    # a Text strip's row: its line is spoken by the provider's TTS (issue 17, vse/speech.py)
    is_text: BoolProperty(name="Text", description="A Text strip: its line is spoken by the provider's TTS")
    voice: StringProperty(name="Voice", description="Voice id for this line; empty = the panel's voice",
                          update=_estimate_update)


class LipsyncJob(bpy.types.PropertyGroup):
    """One job, recorded before any network call and kept with the .blend (docs/architecture.md, step 2)."""

    # name = source strip name (shown in the list)
    job_id: StringProperty(name="Job ID")
    provider: StringProperty(name="Provider")
    model: StringProperty(name="Model")
    options_json: StringProperty(name="Options", default="{}")
    client_key: StringProperty(name="Idempotency Key",
                               description="Idempotency-Key / taskUUID; not a secret, saved on purpose")
    remote_id: StringProperty(name="Remote ID")
    resume_json: StringProperty(name="Resume Data", default="{}")
    request_json: StringProperty(name="Request", default="")
    uploaded_json: StringProperty(name="Uploaded", default="{}",
                                  description="What the provider's uploads returned, saved before the paid submit")
    remote_state: EnumProperty(name="At the Provider", items=REMOTE_STATE_ITEMS, default="NONE")
    status: EnumProperty(name="Status", items=STATUS_ITEMS, default="PENDING")
    progress: FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    message: StringProperty(name="Message")
    notes: StringProperty(name="Notes", description="What the artist must know about this job, one per line: its "
                          "inputs (two voices sharing frames) and its placed take (moved, trimmed, shorter, an "
                          "effect left on the original)")
    cost: FloatProperty(name="Cost (USD)", default=-1.0, description="-1 = not reported")
    estimate: FloatProperty(name="Estimate (USD)", default=-1.0, description="-1 = no published price")
    created: FloatProperty(name="Created")
    submitted: FloatProperty(name="Submitted")
    finished: FloatProperty(name="Finished")
    # placement (plain data so it survives reload; read through vse/records.py JobRecord)
    source_strip: StringProperty(name="Source Strip")
    placement_json: StringProperty(name="Placement", default="{}")
    sound_strips_json: StringProperty(name="Sound Strips", default="[]")
    segment_overrides_json: StringProperty(name="Segment Overrides", default="{}")
    use_segments: BoolProperty(name="Segments", default=True)
    input_hash: StringProperty(name="Input Hash")
    out_dir: StringProperty(name="Output Folder")  # plain string: holds "//lipsync" once saved
    out_stem: StringProperty(name="Output Name")
    outputs_json: StringProperty(name="Outputs", default="[]")
    takes_json: StringProperty(name="Takes", default="[]")
    attempts: IntProperty(name="Attempts", default=0)
    fingerprint: StringProperty(name="Fingerprint",
                                description="sha256 of the inputs' content, range, provider, model and options")
    reused_from: StringProperty(name="Reused From", description="Job whose result this one reused at no cost")
    joined: StringProperty(name="Joined", description="Running job with the same inputs whose result this one "
                                                      "waits for instead of paying again")
    group: StringProperty(name="Group", description="Pieces of one strip split around no-lipsync ranges")
    handle_frames: IntProperty(name="Handles", default=0, description="Pre-roll/tail frames sent, hidden on the take")


class LipsyncStripInfo(bpy.types.PropertyGroup):
    """Identity on a source strip, provenance on a take, the role of a fill (docs/architecture.md,
    "Takes"). Read as `strip.lipsync` (5.0+ hides strip[...])."""

    # identity (vse/identity.py): duplicates, pastes and splits copy these, the stamp tells them apart
    uid: StringProperty(name="Lip Sync ID", description="Stable identity of this strip (survives renames and moves)")
    stamp: StringProperty(name="Stamp", description="Session, generation and address of the strip that owns the uid")
    stamp_name: StringProperty(name="Stamped Name", description="The strip's name when it was last stamped")
    muted_by_take: BoolProperty(name="Muted by Take",
                                description="On a source strip: muted because one of its takes plays in its place")
    is_take: BoolProperty(name="Is Take")
    is_fill: BoolProperty(name="Is Fill",
                          description="A copy of the source playing where its take does not reach (made and removed "
                                      "by the add-on)")
    source: StringProperty(name="Source Strip")
    source_uid: StringProperty(name="Source ID", description="uid of the source strip of this take or fill")
    job_id: StringProperty(name="Job ID")
    take_index: IntProperty(name="Take")
    provider: StringProperty(name="Provider")
    model: StringProperty(name="Model")
    remote_id: StringProperty(name="Remote ID")
    options_json: StringProperty(name="Options", default="{}")
    cost: FloatProperty(name="Cost (USD)", default=-1.0)
    created: FloatProperty(name="Created")
    group: StringProperty(name="Group", description="Takes placed together (pieces of one split job) and their fills")
    reused: BoolProperty(name="Reused", description="Placed from the result cache at no cost")
    ab_other: StringProperty(name="A/B Other",
                             description="On a source strip: what A/B flips back to (take name, empty = original)")


class LipsyncSceneSettings(bpy.types.PropertyGroup):
    provider: EnumProperty(name="Provider", items=PROVIDER_ITEMS, default="sync", update=_estimate_update)
    model: EnumProperty(name="Model", items=MODEL_ITEMS, default="lipsync-2", update=_estimate_update)
    sync_mode: EnumProperty(name="Sync Mode", items=SYNC_MODE_ITEMS, default="DEFAULT", update=_estimate_update)
    use_temperature: BoolProperty(name="Temperature", description="Send a temperature (expressiveness)")
    temperature: FloatProperty(name="Temperature", min=0.0, max=1.0, default=0.5)
    occlusion_detection: BoolProperty(name="Occlusion Detection",
                                      description="Handle hands or objects in front of the mouth (slower)")
    emotion: EnumProperty(name="Emotion", items=EMOTION_ITEMS, default="NONE")
    face_mode: EnumProperty(name="Region", items=FACE_MODE_ITEMS, default="NONE")
    number_results: IntProperty(name="Takes per Job", min=1, max=4, default=1, update=_estimate_update,
                                description="Results per job (each becomes a take)")
    speaker_mode: EnumProperty(name="Speaker", items=SPEAKER_ITEMS, default="NONE")
    speaker_frame: IntProperty(name="Frame", min=0, description="Frame of the uploaded video (0 = first visible)")
    speaker_point: IntVectorProperty(name="Point", size=2, min=0,
                                     description="Pixel of the speaker's face in the source video")
    use_segments: BoolProperty(name="Segments", default=True,
                               description="Send one job with a segment per dialogue strip "
                                           "(off: mix the strips into one audio track)")
    # dialogue from text (issue 17): Text strips over a movie strip are spoken by the provider's TTS
    voice_id: StringProperty(name="Voice", update=_estimate_update,
                             description="ElevenLabs (or sync.so cloned) voice id for Text strips; empty = "
                                         "the default voice of the add-on preferences")
    use_tts_settings: BoolProperty(name="Voice Settings", update=_estimate_update,
                                   description="Send stability and similarity boost (off: the TTS defaults)")
    tts_stability: FloatProperty(name="Stability", min=0.0, max=1.0, default=0.5, update=_estimate_update,
                                 description="Lower: a broader emotional range; higher: steadier, flatter")
    tts_similarity_boost: FloatProperty(name="Similarity Boost", min=0.0, max=1.0, default=0.75,
                                        update=_estimate_update,
                                        description="How closely the speech keeps to the original voice")

    segments: CollectionProperty(type=LipsyncSegment)
    segments_index: IntProperty()
    segments_strip: StringProperty(name="Segments Of", description="The movie strip the segment rows belong to")
    estimate_text: StringProperty(name="Estimate")
    split_long: BoolProperty(name="Split Long Strips", default=False, update=_estimate_update,
                             description="Send a strip longer than the provider takes (300 s) as pieces under the "
                                         "limit, each with its handles, placed end to end (each piece is a billed "
                                         "job)")
    handles: IntProperty(name="Handles", min=0, max=250, default=0, update=_estimate_update,
                         description="Frames of pre-roll and tail sent for context where the media has them; "
                                     "the take hides them and covers exactly the strip")
    use_cache: BoolProperty(name="Reuse Identical Results", default=True,
                            description="A job with the same media content, range, audio, provider, model and "
                                        "options as a finished one reuses its take at no cost (off: a fresh, "
                                        "billed generation)")
    provider_estimate_text: StringProperty(name="Provider's Price",
                                           description="The provider's own estimate (lipsync.provider_estimate)")
    spent_text: StringProperty(name="Spent", description="Running total of reported costs in this .blend")

    jobs: CollectionProperty(type=LipsyncJob)
    jobs_index: IntProperty()


classes = (LipsyncSegment, LipsyncJob, LipsyncStripInfo, LipsyncSceneSettings)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.lipsync = PointerProperty(type=LipsyncSceneSettings)
    bpy.types.Strip.lipsync = PointerProperty(type=LipsyncStripInfo)


def unregister():
    del bpy.types.Strip.lipsync
    del bpy.types.Scene.lipsync
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)

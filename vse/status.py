"""Job statuses: what a record's `status` can be, which are in flight, and how the panel shows them.

Plain data (no bpy), so props.py, the panels and every vse/ module share one list.
"""

# Job status as the panel shows it. The first group are "in flight": a worker may be running (or,
# after a reload, the job must be re-attached). The client's JobState values map 1:1 onto the rest.
IN_FLIGHT = ("PENDING", "PREPARING", "UPLOADING", "SUBMITTING", "QUEUED", "PROCESSING", "DOWNLOADING")
TERMINAL = ("COMPLETED", "FAILED", "REJECTED", "CANCELLED", "UNKNOWN")
STATUS_ITEMS = [
    ("PENDING", "Pending", "Recorded, waiting for a free worker", "TIME", 0),
    ("PREPARING", "Preparing", "Cutting the strips' media into upload files", "FILE_MOVIE", 1),
    ("UPLOADING", "Uploading", "Uploading media to the provider", "EXPORT", 2),
    ("SUBMITTING", "Submitting", "Sending the job to the provider", "EXPORT", 3),
    ("QUEUED", "Queued", "Waiting in the provider's queue", "SORTTIME", 4),
    ("PROCESSING", "Processing", "The provider is generating the result", "PLAY", 5),
    ("DOWNLOADING", "Downloading", "Downloading the result", "IMPORT", 6),
    ("COMPLETED", "Completed", "The result is placed as a take", "CHECKMARK", 7),
    ("FAILED", "Failed", "The job failed; see the message", "ERROR", 8),
    ("REJECTED", "Rejected", "The provider refused the job", "ERROR", 9),
    ("CANCELLED", "Cancelled", "We stopped following the job", "CANCEL", 10),
    ("UNKNOWN", "Needs Attention", "The outcome is unknown; see the message", "QUESTION", 11),
]

# Overall progress bar: 0-10 % preparing, 10-30 % uploading, 30-90 % remote, 90-100 % download.
PHASE_PROGRESS = {"PENDING": 0.0, "PREPARING": 0.02, "UPLOADING": 0.1, "SUBMITTING": 0.3,
                  "QUEUED": 0.3, "PROCESSING": 0.35, "DOWNLOADING": 0.9}

# What the provider holds of a job (issue #13): decides what Retry may do without paying twice.
#   NONE     nothing was accepted (nothing sent, or the provider refused it): a Retry is a new job
#   SENDING  the submit was saved and handed to the network: a crash now leaves it unconfirmed
#   HELD     the provider accepted it (remote id): a Retry polls or downloads it again, never pays
#   ENDED    the provider itself failed or rejected it: only a new, estimated, confirmed job helps
#   UNSURE   the submit may or may not have arrived: resent only on the artist's word, with the
#            same key and uploads where the provider de-duplicates, else as a new job
REMOTE_STATES = ("NONE", "SENDING", "HELD", "ENDED", "UNSURE")
REMOTE_STATE_ITEMS = [
    ("NONE", "Nothing", "The provider holds nothing of this job", 0),
    ("SENDING", "Sending", "The submit was on its way", 1),
    ("HELD", "Accepted", "The provider accepted the job", 2),
    ("ENDED", "Ended", "The provider ended the job (failed or rejected)", 3),
    ("UNSURE", "Not Confirmed", "The provider never confirmed whether it got the job", 4),
]

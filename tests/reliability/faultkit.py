"""Shared expectations of the fault matrix (issue #6): which outcome each fault may end in.

A fault is (kind, on) armed once in the sandbox for one provider. The rules (providers.md §1.11,
§2.6, §3.4): uploads, polls and downloads are questions or content-addressed, so they are retried
and the job completes; a submit is re-sent only where the provider de-duplicates it (sync.so
Idempotency-Key, Runware taskUUID) or where the answer proves it was not processed (429, 503).
Anywhere else an ambiguous submit ends UNKNOWN: the job may exist, and re-sending could pay twice.
"""

from __future__ import annotations

PROVIDERS = ("sync", "runware", "wavespeed", "foxapi", "fal")
IDEMPOTENT = ("sync", "runware")
LABELS = {"sync": "sync.so", "runware": "Runware", "wavespeed": "WaveSpeedAI", "foxapi": "FoxAPI", "fal": "fal.ai"}
REQUEST_KINDS = ("reset_before", "reset_after", "http_500", "http_502", "http_503", "http_429", "slow",
                 "malformed_json")
JOB_KINDS = ("job_failed", "job_rejected", "output_expired", "output_missing", "truncated_download")
ALL_KINDS = REQUEST_KINDS + JOB_KINDS
# the submit faults a provider without idempotency cannot resolve: did the job get created?
AMBIGUOUS_SUBMIT = ("reset_before", "reset_after", "http_500", "http_502", "slow", "malformed_json")
SLOW_SECONDS = 0.9      # the "slow" fault; the tests give the client a 0.5 s read timeout
READ_TIMEOUT = 0.5

FAULT_PARAMS = {
    "http_429": {"retry_after": 0.05},
    "slow": {"seconds": SLOW_SECONDS},
    "truncated_download": {"times": 1},
}


# each provider's own error codes (providers.md §1.10, §2.5, §3.3, §4.4, §5.1)
FAILED_CODES = {"sync": "generation_pipeline_failed", "runware": "inferenceError", "wavespeed": "1403",
                "foxapi": "service_error", "fal": "generation_failed"}
REJECTED_CODES = {"sync": "generation_content_rejected", "runware": "contentPolicyViolation", "wavespeed": "1200",
                  "foxapi": "content_policy_violation", "fal": "content_policy_violation"}


def fault_params(kind: str, provider: str) -> dict:
    params = dict(FAULT_PARAMS.get(kind, {}))
    if kind == "job_failed":
        params.update(code=FAILED_CODES[provider], message="face lost at 00:02")
    elif kind == "job_rejected":
        params.update(code=REJECTED_CODES[provider], message="refused by the moderation")
    return params


def expected_states(kind: str, on: str, provider: str) -> set[str]:
    """The end states a job may reach after one fault of `kind` on request type `on`."""
    if kind in REQUEST_KINDS:
        if on == "submit" and kind in AMBIGUOUS_SUBMIT and provider not in IDEMPOTENT:
            return {"UNKNOWN"}
        return {"COMPLETED"}
    return {"job_failed": {"FAILED"}, "job_rejected": {"REJECTED"}, "output_expired": {"FAILED"},
            "output_missing": {"FAILED"}, "truncated_download": {"COMPLETED"}}[kind]


def max_generations(kind: str, on: str, provider: str) -> int:
    return 1


def reason_words(kind: str) -> tuple[str, ...]:
    """Words the one-line reason must contain (besides the provider's name)."""
    return {"job_failed": ("face lost",), "job_rejected": ("moderation",),
            "output_expired": ("expired",), "output_missing": ("no output",)}.get(kind, ())

"""The paid step: one submit, sent at most once unless the provider de-duplicates it.

What may be sent again (issue #13, STYLE.md habit 7):
- a submit the provider answered with its own documented refusal (validation, auth, a 429 rate or
  concurrency limit) created nothing: a 429 is waited out and the submit sent again;
- with idempotency (sync.so Idempotency-Key, Runware taskUUID: `Provider.idempotent_submit`), an
  answer that cannot be read, or a server error, is resolved by sending the same bytes under the
  same key (the replay answers with the job), a few times, then OutcomeUnknown;
- without idempotency, once the submit's bytes may have reached a server, every failure — a lost
  connection, a 5xx/408 (a gateway answers so after forwarding), an answer the provider module
  chokes on (deep JSON, `{"data": "str"}`, an oversized body), a remote id that cannot be used —
  is OutcomeUnknown and nothing is sent again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator

from .errors import Cancelled, LipsyncError, OutcomeUnknown, ProviderUnavailable, RateLimited, contains_secret
from .events import Event, JobState, Status
from .models import JobRequest
from .providers import Provider, RemoteRef
from .transport import Http

log = logging.getLogger(__name__)

#: submits re-sent after an unreadable answer, where the provider de-duplicates them
UNREADABLE_SUBMIT_RETRIES = 2
#: how long a submit waits for a free slot when the provider says 429 (concurrency / rate limit).
#: A documented 429 proves the job was not created, so waiting is safe for every provider; real
#: jobs take minutes, so a batch bigger than the plan's cap must wait, not fail (providers.md
#: §1.12, §6 #8). Each pause is clamped (transport.MAX_RETRY_AFTER), so the slot is asked for
#: again at least every 30 s whatever Retry-After says.
RATE_LIMIT_PATIENCE = 3600.0
# Remote ids fill one path segment of a URL rebuilt from the configured base, and come back from
# saved files on resume (issue #6): anything else is not an id.
REMOTE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")


def remote_id_problem(ref: RemoteRef) -> str | None:
    """Why an id the provider answered cannot be used as is, or None."""
    if not isinstance(ref.remote_id, str) or not REMOTE_ID.fullmatch(ref.remote_id):
        return "the answer carried no usable job id"
    if contains_secret(ref.remote_id):
        # an id that echoes the key would carry it into records, logs and URLs (issue #13)
        return "the job id in the answer contains the API key"
    return None


def unreadable_answer(exc: LipsyncError) -> bool:
    """The server answered 2xx but the body could not be read (cut-off JSON, not an object)."""
    if isinstance(exc, ProviderUnavailable):
        return exc.status is not None and exc.status < 400
    return type(exc) is LipsyncError


class Submitter:
    def __init__(self, provider: Provider, http: Http, request: JobRequest, clock: Callable[[], float]) -> None:
        self.provider = provider
        self.http = http
        self.request = request
        self.clock = clock

    def submit(self, refs: dict[str, str]) -> Iterator[Event]:
        """Submit, waiting out the provider's concurrency limit (a documented 429: nothing was created)."""
        started = self.clock()
        told = False
        while True:
            try:
                return self.submit_once(refs)
            except RateLimited as exc:
                waited = self.clock() - started
                if waited >= RATE_LIMIT_PATIENCE:
                    raise
                if not told:
                    yield Status(JobState.QUEUED, None, "the provider's concurrency limit is reached: waiting "
                                                        "for a free slot (nothing is billed meanwhile)")
                    told = True
                self.http.wait(min(RATE_LIMIT_PATIENCE - waited,
                                   exc.retry_after if exc.retry_after is not None else 5.0))

    def submit_once(self, refs: dict[str, str]) -> RemoteRef:
        provider = self.provider
        retries = UNREADABLE_SUBMIT_RETRIES if provider.idempotent_submit else 0
        problem = ""
        for attempt in range(retries + 1):
            before = self.http.requests_sent
            try:
                ref = provider.submit(self.request, refs)
            except OutcomeUnknown as exc:
                # a provider module's "answered, but no job id in it": under the same key a resend
                # gets the replay; an error status (a key bound to another body) would not change
                if not (provider.idempotent_submit and (exc.status or 0) < 400 and self.http.requests_sent > before):
                    raise
                problem = exc.message
            except RateLimited:
                raise
            except Cancelled:
                if self.http.requests_sent > before:
                    raise self.unknown("the submit was cancelled while it was on its way") from None
                raise
            except LipsyncError as exc:
                problem = self.error_after(exc, sent=self.http.requests_sent > before)
            except Exception as exc:  # noqa: BLE001 - the provider module choked on the answer
                if self.http.requests_sent == before:
                    raise
                log.debug("submit answer broke the %s parser: %r", provider.name, exc)
                problem = f"the answer could not be read ({type(exc).__name__})"
            else:
                problem = remote_id_problem(ref) or ""
                if not problem:
                    return ref
            log.debug("unreadable submit answer (%s), attempt %d", problem, attempt + 1)
            if attempt < retries:
                self.http.wait(self.http.backoff(attempt))
        raise self.unknown(problem)

    def error_after(self, exc: LipsyncError, *, sent: bool) -> str:
        """What a provider error during the submit means: raised again when it proves the outcome,
        else the problem text of an unreadable answer (retried under the key, or UNKNOWN)."""
        if not sent:
            raise exc  # nothing left this computer (or only failed to connect)
        if isinstance(exc, ProviderUnavailable) and not unreadable_answer(exc):
            # idempotent submits only: the transport retried server errors with the key
            raise self.unknown(f"the provider kept failing ({exc.message})") from None
        if not unreadable_answer(exc):
            raise exc  # the provider's own refusal: nothing was created
        return exc.message

    def unknown(self, what: str) -> OutcomeUnknown:
        name = self.provider.name
        if self.provider.idempotent_submit:
            return OutcomeUnknown(
                f"{what}; the job may or may not have been created. The provider de-duplicates submits by "
                f"their idempotency key ({self.request.client_key}): sending the same request again with that "
                "key and the same uploaded files is never billed twice", name)
        return OutcomeUnknown(f"{what}; the job may or may not have been created, so it was not sent again — "
                              "check the provider's dashboard before submitting again", name)

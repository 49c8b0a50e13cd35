"""Typed errors and the one place that turns them into a sentence for a human.

Every message passes through `scrub()`: any API key registered by a ProviderConfig is replaced
by "***" before it can reach a log line, an exception text or an event repr.
"""

from __future__ import annotations

import re
import threading
import urllib.parse

from .names import LABELS

_secrets: set[str] = set()
_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None
_generation = 0     # bumped when a secret is added (secrets_generation)



def register_secret(value: str | None) -> None:
    """Remember a secret so `scrub()` removes it from every message (short values are ignored)."""
    global _pattern, _generation
    if value and len(value) >= 6:
        with _lock:
            if value not in _secrets:
                _secrets.add(value)
                _pattern = None
                _generation += 1


def secrets_generation() -> int:
    """A number that changes whenever a secret is registered (vse/recordcheck.py keys its verdicts by it)."""
    return _generation


def _secret_pattern() -> re.Pattern[str] | None:
    """One case-insensitive pattern of every secret and its URL-encoded spelling.

    A provider may echo the key back changed in case (an error page that lowercases its input,
    issue #13) or percent-encoded (a URL quoted in a message); each spelling is a leak."""
    global _pattern
    with _lock:
        if _pattern is None and _secrets:
            spellings = set()
            for secret in _secrets:
                spellings.update({secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)})
            alternatives = sorted(spellings, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in alternatives), re.IGNORECASE)
        return _pattern


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by "***", whatever its letter case."""
    if not text:
        return text
    pattern = _secret_pattern()
    return text if pattern is None else pattern.sub("***", text)


def contains_secret(text: str) -> bool:
    pattern = _secret_pattern()
    return bool(text) and pattern is not None and pattern.search(text) is not None


class LipsyncError(Exception):
    """Base of every error the client raises; `provider` is one of config.PROVIDERS or None."""

    #: short description of the class of problem, used by human()
    kind = "error"

    def __init__(self, message: str, provider: str | None = None, *, status: int | None = None) -> None:
        self.message = scrub(str(message)).strip() or self.kind
        self.provider = provider
        self.status = status
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, provider={self.provider!r})"

    def human(self) -> str:
        """One sentence naming the provider, fit for a status bar or a CLI error line."""
        text = self.message.rstrip(".")
        if self.provider:
            text = f"{LABELS.get(self.provider, self.provider)}: {text}"
        return text + "."


class InputError(LipsyncError):
    """The request cannot be sent as it is (unsupported option, bad value, missing file)."""

    kind = "invalid input"


class AuthError(LipsyncError):
    kind = "authentication failed"

    def human(self) -> str:
        base = super().human().rstrip(".")
        return f"{base} (check the API key in the preferences or the environment variable)."


class RateLimited(LipsyncError):
    kind = "rate limited"

    def __init__(self, message: str, provider: str | None = None, *, retry_after: float | None = None,
                 status: int | None = 429) -> None:
        super().__init__(message, provider, status=status)
        self.retry_after = retry_after


class QuotaExceeded(LipsyncError):
    """HTTP 402 and friends: balance, credits or plan limits."""

    kind = "insufficient balance"


class ProviderUnavailable(LipsyncError):
    """The provider could not be reached or answered with a server error after our retries."""

    kind = "provider unavailable"


class JobFailed(LipsyncError):
    """The remote job ended in failure; `code` is the provider's own error code when it gave one."""

    kind = "job failed"

    def __init__(self, code: str | None, message: str, provider: str | None = None, *,
                 rejected: bool = False, status: int | None = None) -> None:
        # a provider's error code is text it chose: it may echo what it was sent, the key included
        self.code = None if code in (None, "") else scrub(str(code))
        self.rejected = rejected
        super().__init__(message or "the job failed without a reason", provider, status=status)

    def human(self) -> str:
        base = super().human().rstrip(".")
        return f"{base} [{self.code}]." if self.code else base + "."


class OutcomeUnknown(LipsyncError):
    """A submit may or may not have been accepted; it is never re-sent automatically."""

    kind = "outcome unknown"


class PollTimeout(OutcomeUnknown):
    """We stopped waiting for a job that may still be running; it can be resumed by remote id."""

    kind = "poll deadline exceeded"


class DownloadError(LipsyncError):
    kind = "download failed"


class Cancelled(LipsyncError):
    kind = "cancelled"


class OnlineAccessDisabled(LipsyncError):
    """Raised by hosts (Blender) that forbid network access; the client itself never raises it."""

    kind = "online access is disabled"


def humanize(exc: BaseException) -> str:
    """One short sentence for any exception; LipsyncErrors name their provider."""
    if isinstance(exc, LipsyncError):
        return exc.human()
    text = scrub(str(exc)).strip()
    name = type(exc).__name__
    return f"Unexpected {name}: {text}." if text else f"Unexpected {name}."

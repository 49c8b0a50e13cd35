"""The official SDKs, pointed at a sandbox (or a recorder in front of it), plus their own parsers.

Each SDK's default hosts are replaced the way the SDK allows: sync and WaveSpeed take a base URL,
runware-sdk an `http_base_url`; fal-client reads module constants (QUEUE_URL_FORMAT, REST_URL,
CDN_URL), patched here for the test only.
"""

from __future__ import annotations

import asyncio
import time
import typing

import httpx

KEY = "sandbox-key"


# -- sync.so: syncsdk ------------------------------------------------------------------------------

class SyncSdk:
    """`sync.Sync` with a response hook keeping every JSON answer, for the SDK's validating parser."""

    def __init__(self, base: str):
        from sync import Sync

        self.answers: list[tuple[str, str, object]] = []
        self.http = httpx.Client(timeout=30, event_hooks={"response": [self._keep]})
        self.client = Sync(api_key=KEY, base_url=base, httpx_client=self.http)

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        try:
            self.answers.append((response.request.method, response.request.url.path, response.json()))
        except ValueError:
            pass

    def last(self):
        return self.answers[-1][2]

    def close(self):
        self.http.close()


def sync_parse(type_, raw):
    """syncsdk's own validating parser (alias-aware pydantic), stricter than its lazy construct."""
    from sync.core.pydantic_utilities import parse_obj_as

    return parse_obj_as(type_, raw)


def sync_wait(sdk: SyncSdk, gen_id: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gen = sdk.client.generations.get(gen_id)
        if gen.status in ("COMPLETED", "FAILED", "REJECTED"):
            return gen
        time.sleep(0.05)
    raise AssertionError(f"generation {gen_id} did not finish")


# -- fal: fal-client -------------------------------------------------------------------------------

def fal_sdk(monkeypatch, api: str, storage: str | None = None, cdn: str | None = None):
    import fal_client
    import fal_client.client as fc

    monkeypatch.setattr(fc, "QUEUE_URL_FORMAT", api + "/")
    monkeypatch.setattr(fc, "REST_URL", storage or api)
    monkeypatch.setattr(fc, "CDN_URL", cdn or api)
    return fal_client.SyncClient(key=KEY)


# -- WaveSpeed: wavespeed ----------------------------------------------------------------------------

def wavespeed_client(base: str):
    from wavespeed.api.client import Client

    return Client(api_key=KEY, base_url=base, retry_interval=0.05)


# -- Runware: runware-sdk (async only) ---------------------------------------------------------------

def runware_call(base: str, *calls):
    """Run `calls` (each `lambda client: coroutine`) on one REST client; return their results."""
    from runware import Runware

    async def main():
        client = Runware(api_key=KEY, transport="rest", http_base_url=base + "/v1", retry_delay=50)
        try:
            return [await call(client) for call in calls]
        finally:
            await client.close()

    return asyncio.run(main())


def check_typed(value: dict, *types) -> None:
    """`value` fits the SDK's TypedDicts: every key declared by one of `types` with a matching type
    (Literal values included), every key the first type declares as required present."""
    hints: dict[str, object] = {}
    for td in reversed(types):
        hints.update(typing.get_type_hints(td, include_extras=True))
    assert isinstance(value, dict), value
    unknown = set(value) - set(hints)
    assert not unknown, f"{sorted(unknown)} not in {[t.__name__ for t in types]}"
    for key, hint in typing.get_type_hints(types[0], include_extras=True).items():
        if typing.get_origin(hint) is not typing.NotRequired:
            assert key in value, f"{key} is required by {types[0].__name__}"
    for key, item in value.items():
        assert _fits(item, hints[key]), f"{key}={item!r} does not fit {hints[key]}"


def _fits(value, hint) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.NotRequired:
        return _fits(value, args[0])
    if origin is typing.Literal:
        return value in args
    if origin is dict:
        return isinstance(value, dict)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is object:
        return True
    return isinstance(value, hint)

"""`python -m sandbox --port N`: serve every provider on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from .faults import DOCS, KINDS, ONS
from .server import Sandbox
from .state import PROVIDERS

EPILOG = f"""\
Providers are served under http://127.0.0.1:PORT/<provider> ({", ".join(PROVIDERS)}), each at its real
paths (e.g. /sync/v2/generate, /runware/v1, /wavespeed/api/v3/sync/lipsync-2, /foxapi/v1/videos/generations,
/fal/fal-ai/sync-lipsync/v2). Point the client at it with LIPSYNC_<NAME>_BASE_URL, e.g.
  LIPSYNC_SYNC_BASE_URL=http://127.0.0.1:8000/sync SYNC_API_KEY=sandbox-key python -m client run ...

Timings: every job stays PENDING for --queue-seconds, then PROCESSING for --processing-seconds (and until
its output video is rendered), then COMPLETED. Change them at run time with POST /_sandbox/config
{{"provider": "fal", "processing_seconds": 5}} (provider optional = all).

Faults (--fault PROVIDER:KIND[:ON[:COUNT]][:param=value,...], repeatable; PROVIDER may be * for all;
ON is one of {", ".join(ONS)}; or at run time POST /_sandbox/faults
{{"provider", "kind", "count", "on", "params"}}):
""" + "\n".join(f"  {k:<19} {DOCS[k]}" for k in KINDS) + """

Admin: GET /_sandbox/stats, GET /_sandbox/requests, GET|POST|DELETE /_sandbox/faults, POST /_sandbox/config,
POST /_sandbox/reset.
"""


def parse_fault(text: str) -> dict:
    """PROVIDER:KIND[:ON[:COUNT]][:k=v,k=v] -> arm() arguments."""
    parts = text.split(":")
    if len(parts) < 2:
        raise argparse.ArgumentTypeError(f"--fault {text!r}: expected PROVIDER:KIND[:ON[:COUNT]][:k=v,...]")
    out = {"provider": parts[0], "kind": parts[1], "on": None, "count": 1, "params": {}}
    for piece in parts[2:]:
        if "=" in piece:
            for kv in piece.split(","):
                k, _, v = kv.partition("=")
                try:
                    out["params"][k] = float(v) if "." in v else int(v)
                except ValueError:
                    out["params"][k] = v
        elif piece.isdigit():
            out["count"] = int(piece)
        elif piece:
            out["on"] = piece
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox", description="Loopback emulator of the sync.so, "
                                 "Runware, WaveSpeedAI, FoxAPI and fal lip-sync APIs, with real (fake-lip-sync) "
                                 "output videos and fault injection. Dev/test/demo only.",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (0 = any free port; default 8000)")
    ap.add_argument("--queue-seconds", type=float, default=0.0, help="seconds each job stays queued (default 0)")
    ap.add_argument("--processing-seconds", type=float, default=2.0,
                    help="seconds each job stays processing (default 2)")
    ap.add_argument("--key", action="append", dest="keys", metavar="KEY",
                    help="accepted API key, repeatable (default: sandbox-key)")
    ap.add_argument("--concurrency", type=int, default=None,
                    help="max PENDING/PROCESSING jobs per key and provider; more -> 429 with Retry-After")
    ap.add_argument("--fault", action="append", default=[], type=parse_fault, metavar="SPEC",
                    help="arm a fault at start-up (see below)")
    ap.add_argument("--workdir", help="where uploads and outputs are stored (default: a temp dir removed on exit)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = ap.parse_args(argv)
    sb = Sandbox(port=args.port, queue_seconds=args.queue_seconds, processing_seconds=args.processing_seconds,
                 keys=tuple(args.keys or ("sandbox-key",)), concurrency=args.concurrency, workdir=args.workdir,
                 verbose=args.verbose)
    for f in args.fault:
        try:
            sb.arm(f["provider"], f["kind"], f["count"], f["on"], **f["params"])
        except ValueError as exc:
            ap.error(str(exc))
    sb.start()
    print(f"sandbox listening on {sb.url}", flush=True)
    for p in PROVIDERS:
        print(f"  {p:<10} {sb.base_url(p)}", flush=True)
    done = threading.Event()
    # Both signals stop cleanly (SIGINT explicitly: it is ignored in background jobs of non-interactive shells).
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.5):  # a timed wait keeps the main thread responsive to signals
        pass
    sb.stop()
    print("sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Local emulator of the five hosted lip-sync APIs (sync.so, Runware, WaveSpeedAI, FoxAPI, fal).

Dev/test/demo only; not part of the extension zip. `python -m sandbox --help` for the CLI;
in-process use: `Sandbox(port=0).start()` (CONTRACTS.md "Sandbox").
"""

from .server import Sandbox

__all__ = ["Sandbox"]

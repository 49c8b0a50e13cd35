"""The reliability suite's closing figures (issue #6), from what actually passed in this run.

Its fixtures are the shared ones (tests/fixtures/); the wire-level fault matrix without Blender
lives in tests/client/test_wire_faults.py.
"""

from __future__ import annotations

import sys

# -- the closing figures of issue #6, from what actually passed in this run ---------------------------
_PASSED: list[str] = []


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed and "tests/reliability/" in report.nodeid.replace("\\", "/"):
        _PASSED.append(report.nodeid)


def pytest_terminal_summary(terminalreporter):
    if not _PASSED:
        return
    import re

    def pairs(module):
        found = set()
        for nodeid in _PASSED:
            if module in nodeid:
                m = re.search(r"\[(\w+)-(\w+)", nodeid)
                if m:
                    found.add((m.group(1), m.group(2)))
        return found

    blender = pairs("test_fault_matrix_in_blender[")
    crash = [n for n in _PASSED if "test_crash_and_resume" in n]
    bad = [n for n in _PASSED if "test_rel_bad_input" in n]
    lines = [f"faults x providers through Blender: {len(blender)} (kind, provider) pairs "
             f"({sum('test_fault_matrix_in_blender' in n for n in _PASSED)} cases)",
             f"crash points survived: {len(crash)} of 5 (x 5 providers each)",
             f"bad inputs tried: {len(bad)}",
             "duplicated generations: 0 and keys leaked: 0 (asserted by every test above that passed)"]
    load = sys.modules.get("test_rel_load")
    figures = getattr(load, "FIGURES", None) if load else None
    if figures:
        lines.append(f"load: 50 jobs, plan cap 3 observed {figures['cap_observed']}, {figures['throttled']} submits "
                     f"throttled; UI tick p50 {figures['p50_ms']:.2f} ms, p99 {figures['p99_ms']:.1f} ms, "
                     f"max {figures['max_ms']:.1f} ms (without a placement: p50 {figures['plain_p50_ms']:.2f} ms, "
                     f"p99 {figures['plain_p99_ms']:.1f} ms; placing a take: p50 {figures['placing_p50_ms']:.1f} ms)")
    terminalreporter.write_sep("-", "reliability figures (issue #6)")
    for line in lines:
        terminalreporter.write_line(line)

"""pytest plugin: the tests that took longer than 20 s (SLOW_TEST_SECONDS), listed at the end of the run; and the
tests marked slow run first.

A test that must take that long says why, in the test: ``@pytest.mark.slow(reason="...")``. The list at the
end names the others (a test longer than the limit with no reason is a test to make faster). It never fails a
run: how long a test takes depends on the machine and on what else runs on it.
"""

from __future__ import annotations

import os

import pytest

LIMIT = float(os.environ.get("SLOW_TEST_SECONDS", "20"))
_REASON = "slow_reason"


def pytest_collection_modifyitems(items):
    """The tests marked slow first, each group in its collected order. pytest-xdist's workers then take the
    long tests while there is still work to balance them against, and the run ends on short tests: a worker
    that runs dry steals from the end of the other's queue, and a long test left for the end keeps one core busy
    while the other idles."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if call.when == "call":
        marker = item.get_closest_marker("slow")
        reason = (marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")) if marker else ""
        if reason:
            report.user_properties.append((_REASON, reason))


def pytest_terminal_summary(terminalreporter):
    seconds: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) not in ("setup", "call", "teardown"):
                continue
            seconds[report.nodeid] = seconds.get(report.nodeid, 0.0) + report.duration
            reasons.update({report.nodeid: value for key, value in report.user_properties if key == _REASON})
    slow = sorted(((s, n) for n, s in seconds.items() if s > LIMIT), reverse=True)
    if not slow:
        return
    unexplained = [(s, n) for s, n in slow if n not in reasons]
    terminalreporter.write_sep("=", f"{len(slow)} tests over {LIMIT:g} s, {len(unexplained)} without a reason")
    for spent, nodeid in slow:
        why = reasons.get(nodeid, 'no reason given: make it faster, or say why with @pytest.mark.slow(reason="...")')
        terminalreporter.write_line(f"{spent:7.1f}s {nodeid}: {why}")

"""pytest plugin: where the suite's CPU goes, by test file (docs/testing.md, "What the CPU is spent on").

On two cores the suite is bound by CPU, not by waiting, so wall-clock durations say little about what a test costs:
a test that waits 30 s on a sleeping peer costs almost nothing, one that runs the role three times costs 20 to 30
core-seconds. With ``CPU_BY_TEST=1`` each test records the processor time (user + system) of its pytest worker (the
in-process emulators and device simulators included) and of every process the worker reaped during the test
(ansible-playbook with its forked task workers and modules), and the end of the run lists the files and tests that
cost most. A server process shared by a worker's tests (OpenBao) is reaped at the end of the session and is not
counted. Off by default: it never changes what a test does.
"""

from __future__ import annotations

import os
import resource

import pytest

_KEY = "cpu_seconds"
ENABLED = os.environ.get("CPU_BY_TEST") == "1"
TOP = 25


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


_START = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not ENABLED:
        return
    report = outcome.get_result()
    if call.when == "setup":
        item.stash[_START] = _cpu()
    elif call.when == "teardown" and _START in item.stash:
        report.user_properties.append((_KEY, _cpu() - item.stash[_START]))


def pytest_terminal_summary(terminalreporter):
    if not ENABLED:
        return
    by_test: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", ()):
                if key == _KEY:
                    by_test[report.nodeid] = value
    if not by_test:
        return
    by_file: dict[str, list[float]] = {}
    for nodeid, spent in by_test.items():
        by_file.setdefault(nodeid.split("::")[0], []).append(spent)
    total = sum(by_test.values())
    terminalreporter.write_sep("=", f"CPU by test file (core seconds; {total:.0f} in {len(by_test)} tests)")
    for name, spent in sorted(by_file.items(), key=lambda kv: -sum(kv[1]))[:TOP]:
        terminalreporter.write_line(f"{sum(spent):8.1f} {100 * sum(spent) / total:5.1f}% {len(spent):4d} tests  {name}")
    terminalreporter.write_sep("=", "CPU by test (core seconds)")
    for nodeid, spent in sorted(by_test.items(), key=lambda kv: -kv[1])[:TOP]:
        terminalreporter.write_line(f"{spent:8.1f} {nodeid}")

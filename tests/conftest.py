"""Shared pytest setup: integration tests must run where they are required, never skip silently."""

from __future__ import annotations

import os

import pytest

_ran: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and "tests/integration" in report.nodeid and report.outcome != "skipped":
        _ran.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    required = os.environ.get("NPMATRIX_REQUIRE_INTEGRATION") == "1"
    if required and not _ran and session.testscollected:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "ERROR: NPMATRIX_REQUIRE_INTEGRATION=1 but no integration test ran", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

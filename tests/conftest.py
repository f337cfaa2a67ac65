"""Shared fixtures: the offline emulator, in process and over loopback HTTP, and a real
PostgreSQL server (tests/support/postgres_server.py) with a fresh database for each test."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from langchain_nanobanana._openrouter.discovery import DISCOVERY
from langchain_nanobanana._transport import http as transport_http
from langchain_nanobanana._transport.shared_limit import forget_all as forget_rate_limits
from langchain_nanobanana.testing import FakeOpenRouter
from langchain_nanobanana.testing._oracle import take_schema_violations
from tests.support.postgres_server import PostgresServer, PostgresUnavailableError
from tests.support.postgres_server import start as start_postgres

# pytester runs the harness's own tests of this conftest
# (tests/integration/postgres/test_postgres_harness.py).
pytest_plugins = ("pytester",)


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test talks to this machine only; a proxy from the environment would
    send loopback calls elsewhere and change which httpx transport the model builds."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def pytest_configure(config: pytest.Config) -> None:
    # Every emulator of the suite (subprocesses' too) holds what the package sends, and what
    # it answers, to OpenRouter's official SDK models (langchain_nanobanana/testing/_oracle.py).
    os.environ["NANOBANANA_SCHEMA_CHECK"] = "1"


@pytest.fixture(autouse=True)
def _official_schema() -> Iterator[None]:
    """A test fails when a request the package sent, or an answer the emulator gave, is
    refused by the official SDK's models (less the known gaps listed in _oracle)."""
    take_schema_violations()
    yield
    violations = take_schema_violations()
    if violations:
        pytest.fail(
            "OpenRouter's official schema refuses:\n" + "\n".join(map(str, violations)),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _fresh_model_lists() -> Iterator[None]:
    """Each test discovers models anew: in-process emulators share one base URL."""
    DISCOVERY.clear()
    yield
    DISCOVERY.clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Each test starts with open limits: in-process emulators share one base URL and key,
    and a 429 scripted in one test must not narrow or pause the next one's calls."""
    forget_rate_limits()
    yield
    forget_rate_limits()


@pytest.fixture
def fake() -> FakeOpenRouter:
    return FakeOpenRouter()


@pytest.fixture
def base_url(fake: FakeOpenRouter) -> Iterator[str]:
    """The emulator as a real HTTP server on 127.0.0.1."""
    with fake.serve() as url:
        yield url


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits the transport asked for, recorded instead of slept."""
    waits: list[float] = []

    async def record_async(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(transport_http, "_sleep", waits.append)
    monkeypatch.setattr(transport_http, "_asleep", record_async)
    return waits


# ------------------------------------------------------------ real PostgreSQL

# Set (to 1) where the PostgreSQL tests must run: no server is then an error, not a skip.
REQUIRE_POSTGRES = "NANOBANANA_REQUIRE_POSTGRES"
# A file to write how the postgres-marked tests came out, as JSON, for .ci/run to check.
POSTGRES_REPORT = "NANOBANANA_POSTGRES_REPORT"
_POSTGRES_FIXTURES = frozenset({"postgres_server", "postgres_url", "postgres_db"})
_postgres_outcomes: dict[str, str] = {}
_postgres_started: list[PostgresServer] = []


def postgres_required() -> bool:
    return os.environ.get(REQUIRE_POSTGRES, "").strip() not in ("", "0")


def postgres_unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it where the PostgreSQL tests are required to run."""
    if postgres_required():
        pytest.fail(f"{reason} (and {REQUIRE_POSTGRES} is set)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the server carries the postgres marker, whether or not it says so."""
    for item in items:
        if _POSTGRES_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" not in report.keywords:
        return
    if report.when == "call" or not report.passed:
        outcome = report.outcome
        if report.when != "call" and report.failed:
            outcome = "error"
        # Keep the first bad word for a test: a teardown error after a failure stays a failure.
        if _postgres_outcomes.get(report.nodeid, "passed") == "passed":
            _postgres_outcomes[report.nodeid] = outcome
    elif report.when == "setup":
        _postgres_outcomes.setdefault(report.nodeid, "passed")


def _postgres_counts() -> dict[str, int]:
    counts = {"selected": len(_postgres_outcomes), "passed": 0, "failed": 0, "skipped": 0}
    counts["error"] = 0
    for outcome in _postgres_outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def pytest_sessionfinish(session: pytest.Session) -> None:
    target = os.environ.get(POSTGRES_REPORT)
    if target:
        report = _postgres_counts()
        report["server"] = [str(server.binaries.bin_dir) for server in _postgres_started]
        Path(target).write_text(json.dumps(report, indent=2) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _postgres_outcomes:
        return
    counts = _postgres_counts()
    line = (
        f"real PostgreSQL tests: {counts['selected']} selected; passed {counts['passed']}, "
        f"skipped {counts['skipped']}, failed {counts['failed']}, errors {counts['error']}"
    )
    for server in _postgres_started:
        line += (
            f"; server from {server.binaries.bin_dir} ({server.binaries.source}), "
            f"started in {server.startup_seconds:.1f}s"
        )
    terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway server for the session, on 127.0.0.1, removed at the end."""
    try:
        import psycopg  # noqa: F401  (the tests need the driver as much as the server)
    except ImportError as error:
        postgres_unavailable(f"psycopg is not installed ({error}); install the test extras")
    try:
        server = start_postgres()
    except PostgresUnavailableError as error:
        postgres_unavailable(f"no PostgreSQL server could be started: {error}")
    _postgres_started.append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """postgresql://postgres@127.0.0.1:PORT/postgres, the server's own database (shared)."""
    return postgres_server.url


@pytest.fixture
def postgres_db(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a database made for this test alone, dropped after it."""
    import psycopg
    from psycopg import sql

    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield postgres_server.url_for(name)
    finally:
        with psycopg.connect(postgres_server.url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

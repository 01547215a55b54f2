"""Schemathesis over the whole API, as anonymous, admin, agency admin and clerk: no 5xx, nothing undocumented."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.test_cli import env_for, run
from tests.service.test_resilience_live import LiveServer

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
#: What the issue asks of the API (no 5xx; every status and content type documented), plus the
#: headers and Allow checks. Bounded: a few examples per operation, deterministic, well under a minute.
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance," + (
    "allow_header_conformance"
)


@pytest.fixture
def server(db: str, tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(db, tmp_path / "state")
    yield live
    live.stop()


def test_fuzzing_finds_no_server_error_and_nothing_undocumented(server: LiveServer, db: str, tmp_path: Path) -> None:
    """One server for the four callers (its start-up costs more than a run); each run is a few seconds."""
    for role in (None, "admin", "agency-admin", "clerk"):
        headers = []
        if role is not None:
            agency = [] if role == "admin" else ["--agency", "MHLW"]
            token = run(["token", "create", "--role", role, *agency], env_for(db)).stdout.strip()
            headers = ["-H", f"Authorization: Bearer {token}"]
        result = subprocess.run(
            [str(SCHEMATHESIS), "run", server.base + "/schema/openapi.json", *headers, "--checks", CHECKS,
             "--max-examples", "5", "--phases", "examples,coverage,fuzzing", "--generation-deterministic",
             "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert result.returncode == 0, (role, result.stdout[-6000:])
        assert " passed" in result.stdout
    # Nothing the fuzzer sent made the server log an unexpected exception.
    assert not [line for line in server.log_lines() if line.get("event") == "unhandled_exception"]

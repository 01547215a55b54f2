"""The JSON log stream stays JSON whatever a library logs (asyncpg's pool warning carries a traceback)."""

from __future__ import annotations

import logging
from typing import Any

import msgspec

from service.logs import configure_logging
from service.settings import Settings


def test_a_library_warning_with_a_traceback_is_one_json_line(capsys: Any) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings(log_format="json"))  # here: its handler writes to the stderr pytest captures now
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed ('10.0.0.1', 5432) for user yamada")
        except ConnectionRefusedError:
            # What asyncpg's pool does while the database is down (pool.py: logger.warning(..., exc_info=True)).
            logging.getLogger("asyncpg.pool").warning(
                "Failed to restore the pool connection floor; retrying", exc_info=True
            )
        logging.getLogger("somewhere").warning("an object %s", object())
    finally:
        root.handlers[:], root.level = handlers, level
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2, lines
    first, second = (msgspec.json.decode(line) for line in lines)
    assert first["event"] == "Failed to restore the pool connection floor; retrying"
    assert first["error"] == "builtins.ConnectionRefusedError"
    assert "yamada" not in lines[0]  # the exception's message is not logged
    assert second["level"] == "warning"

"""The readiness probe's one statement."""

from __future__ import annotations

from typing import Final, LiteralString

PING: Final[LiteralString] = "SELECT 1"

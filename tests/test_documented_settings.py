"""Every setting the README and the operations guide name exists: a documented setting that does nothing is a defect."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_documented_variable_is_a_setting() -> None:
    fields = {ENV_PREFIX + name.upper() for name in Settings.__struct_fields__}
    for doc in ("README.md", "docs/operations.md"):
        named = set(re.findall(r"\bSHINSEI_[A-Z0-9_]*[A-Z0-9]\b", (ROOT / doc).read_text()))
        assert named, doc
        assert named <= fields, f"{doc} names variables that are not settings: {sorted(named - fields)}"

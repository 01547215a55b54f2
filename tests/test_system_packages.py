"""scripts/system-packages.sh, the one list of Debian packages that `make test` and `.ci/run` install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "system-packages.sh"
NOBODY = 65534


def as_a_user() -> None:
    """Run the child as nobody when the tests run as root (CI), so the non-root branch is the one taken."""
    if os.getuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)


def test_nothing_to_do_once_installed() -> None:
    # The suite itself needs the packages, so here they are installed: the script says nothing.
    result = subprocess.run(["bash", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_user_gets_the_exact_command_and_a_failure() -> None:
    # The script comes on stdin and the child starts in /: nobody may not read the checkout (/root/...).
    with SCRIPT.open() as script:
        result = subprocess.run(
            ["bash", "-s", "--", "shinsei-no-such-package"], stdin=script, cwd="/",
            capture_output=True, text=True, timeout=60, check=False, preexec_fn=as_a_user,
        )  # fmt: skip
    assert result.returncode == 1
    assert "  sudo apt-get update && sudo apt-get install -y shinsei-no-such-package\n" in result.stderr

"""Where the master keys come from: a key file given by setting, or in development one made under ``data_dir``."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Final

from service.mynumber.envelope import Keyring, encode_key, new_key, parse_keyring
from service.settings import Settings

DEVELOPMENT_KEY_FILE: Final = "my-number-master.key"


def development_keyring(directory: Path) -> Keyring:
    """A master key made once and kept in ``directory`` (mode 0600), for ``make run`` and tests only."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DEVELOPMENT_KEY_FILE
    if not path.exists():
        # Written whole to a private file (mkstemp: mode 0600), then linked into place: link refuses to
        # replace, so workers starting together agree on one key and none reads a half-written file.
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".my-number-")
        try:
            with os.fdopen(fd, "w") as out:
                out.write("# DEVELOPMENT master key for 個人番号: not for production\n" + encode_key(new_key()) + "\n")
            with contextlib.suppress(FileExistsError):
                path.hardlink_to(temporary)
        finally:
            Path(temporary).unlink()
    return parse_keyring(path.read_text())


def load_keyring(settings: Settings) -> Keyring | None:
    """The configured key file; in development, a generated one; in production without one, None.

    None makes every operation that needs a 個人番号 in clear refuse (503) rather than invent a key a
    production server could lose with its data dir.
    """
    if settings.my_number_master_key_file:
        return parse_keyring(Path(settings.my_number_master_key_file).read_text())
    if settings.env == "development":
        return development_keyring(Path(settings.data_dir) / "keys")
    return None

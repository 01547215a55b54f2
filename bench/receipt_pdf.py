"""Receipt PDFs: preparing the Regular font once, and rendering a page with it against the old font.

"Regular instance" is what shinsei does: a static wght-400 instance of Noto Sans JP, made with
fontTools' instancer and kept under the data dir. "variable, tables dropped" is the font as it was
prepared before: the variable font with its layout and variation tables deleted in memory (so its
default instance, Thin, showed). Both render the same receipt with today's layout, signed with the
same in-memory key, in one process, interleaved rounds; times are CPU seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fontTools.ttLib import TTFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from signing.devca import development_receipt_key
from signing.fonts import Font, Typeface, variable_source
from signing.receipt_pdf import render_pdf
from tests.signing.test_receipts import PRESENTATION, RECEIPT

ROUNDS = 8


@dataclasses.dataclass(frozen=True)
class Prepared(Typeface):
    """A typeface whose font is already in hand (for the comparison only)."""

    font: Font | None = None

    def load(self) -> Font:
        assert self.font is not None
        return self.font


def variable_tables_dropped() -> bytes:
    font = TTFont(variable_source())
    for tag in ("GSUB", "GPOS", "BASE", "GDEF", "gvar", "HVAR", "MVAR", "STAT", "avar", "fvar"):
        if tag in font:
            del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def cpu_seconds(function: Any) -> float:
    started = time.process_time()
    function()
    return time.process_time() - started


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        fonts_dir = Path(directory) / "fonts"
        started = time.perf_counter()
        regular = Typeface(fonts_dir).load()
        cold = time.perf_counter() - started
        started = time.perf_counter()
        Font.from_bytes(regular.path, regular.path.read_bytes())
        read_back = time.perf_counter() - started
        started = time.perf_counter()
        old_font = Font.from_bytes(Path("variable"), variable_tables_dropped())
        old_prep = time.perf_counter() - started
        print(f"font preparation: Regular instance made {cold:.1f} s (once per data dir), read back {read_back:.2f} s "
              f"(once per process); variable, tables dropped {old_prep:.2f} s (once per process)")  # fmt: skip

        key = development_receipt_key(Path(directory) / "receipts")
        new = Prepared(fonts_dir, font=regular)
        old = Prepared(fonts_dir, font=old_font)

        def render(typeface: Typeface) -> None:
            asyncio.run(render_pdf(RECEIPT, PRESENTATION, key.signer, typeface))

        times: dict[str, list[float]] = {"Regular instance": [], "variable, tables dropped": []}
        render(new)  # warm-up: imports, HarfBuzz
        for _ in range(ROUNDS):
            times["Regular instance"].append(cpu_seconds(lambda: render(new)))
            times["variable, tables dropped"].append(cpu_seconds(lambda: render(old)))
        for name, values in times.items():
            print(f"render one page, {name}: median {statistics.median(values):.2f} s CPU (min {min(values):.2f})")
        ratio = statistics.median(times["variable, tables dropped"]) / statistics.median(times["Regular instance"])
        print(f"ratio (old / new): {ratio:.2f}")


if __name__ == "__main__":
    main()

"""Noto Sans JP Regular for the PDFs: a static instance of the shipped variable font, made once and kept."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import os
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import Final

import fontTools
from fontTools.ttLib import TTFont
from fontTools.varLib import instancer
from uniseg.graphemecluster import grapheme_cluster_boundaries
from uniseg.linebreak import line_break_boundaries

REGULAR: Final = {"wght": 400}
STEM: Final = "NotoSansJP-Regular"
#: Layout tables the PDFs never use. pyHanko subsets the font for every PDF and fontTools decompiles
#: every table it keeps to do so: GSUB/GPOS hold thousands of lookups for vertical and proportional
#: forms we never set, and with them one receipt took twice the CPU.
LAYOUT_TABLES: Final = ("GSUB", "GPOS", "BASE", "GDEF")

# One preparation at a time in this process: a second caller waits for the first instead of
# instancing the same font again (it takes seconds of CPU).
_preparing = threading.Lock()


def variable_source() -> Path:
    """Noto Sans JP as the install ships it (``justmytype-intl-cjk``, SIL Open Font License): variable, wght 100-900."""
    return Path(str(resources.files("justmytype_intl_cjk") / "fonts" / "ofl" / "notosansjp" / "NotoSansJP[wght].ttf"))


@dataclasses.dataclass(frozen=True, eq=False)
class Font:
    """The prepared font's bytes, with the advance widths that line breaking measures text by."""

    path: Path
    data: bytes
    units_per_em: int
    advances: dict[int, int]
    """Advance width in font units, by code point (without GPOS there is no kerning to add)."""
    missing: int
    """The advance of the glyph a code point the font lacks is drawn with (.notdef)."""

    @classmethod
    def from_bytes(cls, path: Path, data: bytes) -> Font:
        font = TTFont(io.BytesIO(data), lazy=True)
        metrics = font["hmtx"].metrics
        advances = {code: metrics[glyph][0] for code, glyph in font.getBestCmap().items()}
        return cls(
            path=path,
            data=data,
            units_per_em=font["head"].unitsPerEm,
            advances=advances,
            missing=metrics[".notdef"][0],
        )

    def extents(self, text: str, size: float) -> list[float]:
        """Distance in points from the start of ``text`` to the end of each of its characters."""
        total, out, scale = 0.0, [], size / self.units_per_em
        for char in text:
            total += self.advances.get(ord(char), self.missing) * scale
            out.append(total)
        return out

    def width(self, text: str, size: float) -> float:
        return self.extents(text, size)[-1] if text else 0.0

    def wrap(self, text: str, size: float, width: float) -> list[str]:
        """``text`` broken into lines no wider than ``width`` points, by Unicode line breaking (UAX #14).

        UAX #14 knows Japanese: it breaks between kanji and kana but keeps 「（ with what follows and
        、。）」 with what precedes. A run with no break opportunity that is still too wide (a long
        file name, a digest) is broken between characters rather than run off the page. A space a
        line ends with stays there, unseen and not measured, so that copied text keeps its words apart.
        """
        return [line for paragraph in text.splitlines() or [""] for line in self._wrap(paragraph, size, width)]

    def _wrap(self, text: str, size: float, width: float) -> list[str]:
        extents = self.extents(text, size)

        def span(start: int, end: int) -> float:
            end = start + len(text[start:end].rstrip(" "))
            return extents[end - 1] - (extents[start - 1] if start else 0.0) if end > start else 0.0

        lines: list[str] = []
        start = fit = 0
        # Greedy: each line ends at the last opportunity that fits. uniseg finds the opportunities,
        # once per paragraph (it is pure Python: its own wrapper finds them again for every line).
        for end in _line_breaks(text):
            if span(start, end) <= width:
                fit = end
                continue
            if fit > start:
                lines.append(text[start:fit])
                start = fit
            if span(start, end) > width:  # no opportunity in a run too wide: cut it between characters
                last = start
                for cut in [start + b for b in _clusters(text[start:end])]:
                    if span(start, cut) > width and last > start:
                        lines.append(text[start:last])
                        start = last
                    last = cut
            fit = end
        return [*lines, text[start:]] if start < len(text) or not lines else lines


@functools.lru_cache(maxsize=1024)
def _line_breaks(text: str) -> tuple[int, ...]:
    """Where a line may end in ``text`` (UAX #14), the end included; the same for every size tried."""
    return tuple(line_break_boundaries(text)) or (0,)


def _clusters(text: str) -> list[int]:
    """Where ``text`` may be cut between characters (grapheme cluster boundaries), its start excluded."""
    return [b for b in grapheme_cluster_boundaries(text) if b > 0]


@dataclasses.dataclass(frozen=True)
class Typeface:
    """Where the Regular instance is kept (``<data_dir>/fonts``); ``load()`` prepares it once per process.

    The first ``load()`` on a new data dir instances the variable font at wght 400 (about ten seconds of
    CPU); later ones, in this process or any other, read the kept file. Call it off the event loop.
    """

    cache_dir: Path
    source: Path = dataclasses.field(default_factory=variable_source)

    def load(self) -> Font:
        with _preparing:
            return _prepared(self.cache_dir.resolve(), self.source.resolve())


@functools.cache
def _prepared(cache_dir: Path, source: Path) -> Font:
    raw = source.read_bytes()
    # Keyed by what the instance is made from: a new font release or a new fontTools (whose instancer
    # decides the outlines) makes a new file instead of reusing a stale one.
    key = f"{hashlib.sha256(raw).hexdigest()[:16]}-fonttools{fontTools.version}"
    target = cache_dir / f"{STEM}.{key}.ttf"
    try:
        return Font.from_bytes(target, target.read_bytes())
    except FileNotFoundError:
        pass
    data = regular_instance(raw)
    # The kept file is a cache: where it cannot be written (a read-only data dir, a full disk) the
    # instance is made once per process instead of once.
    with contextlib.suppress(OSError):
        keep(target, data)
    return Font.from_bytes(target, data)


def regular_instance(variable: bytes) -> bytes:
    """The static Regular (wght 400) of a variable font, named as such, without the tables PDFs never use."""
    font = TTFont(io.BytesIO(variable))
    for tag in LAYOUT_TABLES:  # dropped before instancing: the instancer need not work on them
        if tag in font:
            del font[tag]
    # updateFontNames renames the instance from the STAT and fvar names ("Noto Sans JP Regular",
    # PostScript "NotoSansJP-Regular", which the PDF's /BaseFont shows).
    static = instancer.instantiateVariableFont(font, REGULAR, updateFontNames=True)
    del static["STAT"]  # it only named the variable axes, and the new names are made
    out = io.BytesIO()
    static.save(out)
    return out.getvalue()


def keep(target: Path, data: bytes) -> None:
    """Write the instance where later runs find it, and remove the instances made from older sources.

    Readers, in this process or another, see the whole file or none: it is written beside the target
    and renamed over it, which is atomic within one directory.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{STEM}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for stale in target.parent.glob(f"{STEM}.*.ttf"):
        if stale != target:
            stale.unlink(missing_ok=True)

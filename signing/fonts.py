"""Noto Sans JP Regular for the PDFs: a static instance of the shipped font, made once, kept, given to pyHanko."""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import functools
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import threading
from importlib import resources
from pathlib import Path
from typing import Any, Final

import fontTools
from fontTools.ttLib import TTFont
from fontTools.varLib import instancer
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from uniseg.graphemecluster import grapheme_cluster_boundaries
from uniseg.linebreak import line_break_boundaries

REGULAR: Final = {"wght": 400}
STEM: Final = "NotoSansJP-Regular"
#: Layout tables the PDFs never use. pyHanko subsets the font for every PDF and fontTools decompiles
#: every table it keeps to do so: GSUB/GPOS hold thousands of lookups for vertical and proportional
#: forms we never set, and with them one receipt took twice the CPU.
LAYOUT_TABLES: Final = ("GSUB", "GPOS", "BASE", "GDEF")


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
    """Where the Regular instance is kept (``<data_dir>/fonts``), made once per data dir and read once per process.

    Making it is about fifteen seconds of pure-Python CPU (fontTools' instancer), so it runs in a child
    process: a server's event loop never shares the GIL with it, and a server shutting down kills it
    instead of waiting for it. Processes that want it at once wait for one child, by a file lock.
    """

    cache_dir: Path
    source: Path = dataclasses.field(default_factory=variable_source)

    def load(self) -> Font:
        """The font, made first if need be (in a child process, waited for). Call it off the event loop."""
        with _loading:
            return _load(self.cache_dir.resolve(), self.source.resolve())

    async def prepare(self) -> None:
        """Make the kept instance unless it is there, without blocking the loop; cancelled, the child is killed."""
        if (await asyncio.to_thread(kept_path, self.cache_dir, self.source)).exists():
            return
        child = await asyncio.create_subprocess_exec(*_command(self.cache_dir, self.source))
        try:
            await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()


def kept_path(cache_dir: Path, source: Path) -> Path:
    """Where the instance made from ``source`` is kept.

    Named for what it is made from: a new font release or a new fontTools (whose instancer decides
    the outlines) makes a new file instead of reusing a stale one.
    """
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    return cache_dir / f"{STEM}.{digest}-fonttools{fontTools.version}.ttf"


# One load at a time in this process: a second caller waits for the first, then finds it memoised.
_loading = threading.Lock()


@functools.cache
def _load(cache_dir: Path, source: Path) -> Font:
    target = kept_path(cache_dir, source)
    if not target.exists():
        subprocess.run(_command(cache_dir, source), check=False)  # noqa: S603 - this interpreter, this module
    try:
        return Font.from_bytes(target, target.read_bytes())
    except FileNotFoundError:
        # The data dir cannot keep it (read-only, full): made here, once per process instead of once.
        return Font.from_bytes(target, regular_instance(source.read_bytes()))


def _command(cache_dir: Path, source: Path) -> list[str]:
    return [sys.executable, "-m", "signing.fonts", str(cache_dir), str(source)]


def make(cache_dir: Path, source: Path) -> Path:
    """Make and keep the instance, unless another process made it while this one waited for the lock."""
    target = kept_path(cache_dir, source)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when this process ends, even killed
        if not target.exists():
            for leftover in cache_dir.glob(f".{STEM}.*.tmp"):  # of a child killed while writing
                leftover.unlink(missing_ok=True)
            keep(target, regular_instance(source.read_bytes()))
    return target


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


if __name__ == "__main__":
    make(Path(sys.argv[1]), Path(sys.argv[2]))


@dataclasses.dataclass(frozen=True, kw_only=True)
class JapaneseFont(GlyphAccumulatorFactory):
    """pyHanko's factory, fed the prepared font from memory (its own opens the file and never closes it).

    One engine per PDF writer, whatever the size of the text set with it: each engine embeds its own
    subset of the font, and subsetting is most of a page's rendering time. pyHanko's text box sets the
    engine's size for the text it lays out, so text boxes of different sizes can share one.
    """

    font: Font
    _engines: list[tuple[object, GlyphAccumulator]] = dataclasses.field(default_factory=list, compare=False)

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        for known, engine in self._engines:
            if known is writer:
                return engine
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        engine = GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(self.font.data),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )
        self._engines.append((writer, engine))
        return engine

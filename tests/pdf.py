"""Reading rendered PDFs back as a viewer does: their text and where it lies (poppler), their fonts."""

from __future__ import annotations

import html
import io
import re
import subprocess
from typing import Any

from fontTools.ttLib import TTFont
from pyhanko.pdf_utils.reader import PdfFileReader

WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def _pdftotext(pdf: bytes, *options: str) -> str:
    result = subprocess.run(
        ["pdftotext", *options, "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode()


def page_text(pdf: bytes) -> str:
    """The text as poppler's pdftotext extracts it, in the order it is set (``-raw``: nor is a word
    broken at a hyphen joined up again, which would hide how the lines were broken)."""
    return _pdftotext(pdf, "-raw")


def unwrapped(text: str) -> str:
    """The text with its line breaks and the indentation of wrapped lines taken out."""
    return re.sub("\n\u3000*", "", text)


def word_boxes(pdf: bytes) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Every word on the page with its box (left, bottom, right, top) in points from the bottom left."""
    height = 842.0  # A4, the only page size the receipts use
    return [
        (html.unescape(word), (float(x0), height - float(y1), float(x1), height - float(y0)))
        for x0, y0, x1, y1, word in WORD.findall(_pdftotext(pdf, "-bbox"))
    ]


def embedded_fonts(pdf: bytes) -> list[TTFont]:
    """Every embedded TrueType program (FontFile2) the PDF's objects reach, the signature's appearance included."""
    reader = PdfFileReader(io.BytesIO(pdf))  # type: ignore[no-untyped-call]
    fonts: list[TTFont] = []
    seen: set[int] = set()

    def walk(node: Any, depth: int) -> None:
        if depth > 20:
            return
        if hasattr(node, "get_object"):
            node = node.get_object()
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "/FontFile2":
                    fonts.append(TTFont(io.BytesIO(value.get_object().data)))
                elif key not in ("/Parent", "/P"):
                    walk(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    walk(reader.root, 0)
    return fonts

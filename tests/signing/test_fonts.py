"""The PDFs' font: a Regular instance of the shipped variable font, made once and kept, and line breaking by it."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import time
from pathlib import Path

import fontTools
import psutil
import pytest
from fontTools.ttLib import TTFont

from signing import fonts
from signing.fonts import Font, Typeface, variable_source


@pytest.fixture(scope="module")
def font(typeface: Typeface) -> Font:
    return typeface.load()


def test_the_kept_instance_is_regular_and_named_for_its_source(typeface: Typeface, font: Font) -> None:
    digest = hashlib.sha256(typeface.source.read_bytes()).hexdigest()[:16]
    assert font.path == typeface.cache_dir.resolve() / f"NotoSansJP-Regular.{digest}-fonttools{fontTools.version}.ttf"
    kept = TTFont(font.path)
    assert kept["OS/2"].usWeightClass == 400
    assert kept["name"].getDebugName(6) == "NotoSansJP-Regular"
    assert kept["name"].getDebugName(4) == "Noto Sans JP Regular"
    assert not {"fvar", "gvar", "HVAR", "avar", "STAT", "GSUB", "GPOS", "GDEF", "BASE"} & set(kept.keys())
    assert TTFont(typeface.source)["OS/2"].usWeightClass == 100  # the variable font's default: Thin
    assert font.path.read_bytes() == font.data


def test_another_process_reads_the_kept_file(font: Font, tmp_path: Path) -> None:
    """A new process (here: a new data dir holding the same file) reads it instead of instancing again."""
    (tmp_path / "fonts").mkdir()
    shutil.copy(font.path, tmp_path / "fonts" / font.path.name)
    started = time.perf_counter()
    again = Typeface(tmp_path / "fonts").load()
    assert time.perf_counter() - started < 5  # instancing takes 10 s and more; reading, a fraction of one
    assert again.data == font.data and again.path == (tmp_path / "fonts" / font.path.name).resolve()
    assert Typeface(tmp_path / "fonts").load() is again  # and once per process


def test_making_finds_what_another_process_made(font: Font, tmp_path: Path) -> None:
    """``make`` runs in a child under a file lock: the second to take it finds the file and stops."""
    shutil.copy(font.path, tmp_path / font.path.name)
    started = time.perf_counter()
    assert fonts.make(tmp_path, variable_source()) == tmp_path / font.path.name
    assert time.perf_counter() - started < 5
    assert (tmp_path / font.path.name).read_bytes() == font.data


async def test_a_cancelled_preparation_kills_its_child(tmp_path: Path) -> None:
    """A server stopping while the font is still being made does not wait the seconds it takes."""
    preparing = asyncio.create_task(Typeface(tmp_path / "fonts").prepare())
    deadline = time.monotonic() + 20
    while not (children := psutil.Process().children()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # the process table has no event to wait on
    [child] = children
    assert "signing.fonts" in child.cmdline()
    preparing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await preparing
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert not list((tmp_path / "fonts").glob("*.ttf"))


def test_keeping_an_instance_replaces_the_stale_ones(tmp_path: Path) -> None:
    stale = tmp_path / "NotoSansJP-Regular.0123456789abcdef-fonttools4.0.0.ttf"
    stale.write_bytes(b"made from another font, or by another fontTools")
    unrelated = tmp_path / "other.ttf"
    unrelated.write_bytes(b"not ours")
    target = tmp_path / "NotoSansJP-Regular.fedcba9876543210-fonttools9.9.9.ttf"
    fonts.keep(target, b"instance")
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name, "other.ttf"]  # no temporary file is left
    assert target.read_bytes() == b"instance"


def test_wrap_breaks_japanese_by_its_rules_and_long_runs_anywhere(font: Font) -> None:
    width = 11 * 12  # twelve full-width characters at 11 pt
    lines = font.wrap("時間外労働・休日労働に関する協定届（36協定届）を提出しました。", 11, width)
    assert "".join(lines) == "時間外労働・休日労働に関する協定届（36協定届）を提出しました。"
    assert all(font.width(line.rstrip(), 11) <= width for line in lines)
    assert not any(line.startswith(("）", "。", "、")) or line.endswith("（") for line in lines)  # kinsoku
    digest = "ab" * 32
    broken = font.wrap(digest, 11, 100)
    assert "".join(broken) == digest and len(broken) > 1
    assert all(font.width(line, 11) <= 100 for line in broken)
    assert font.wrap("short", 11, 100) == ["short"] and font.wrap("", 11, 100) == [""]
    assert font.wrap("two words", 11, font.width("words", 11) + 1) == ["two ", "words"]  # the space stays, unseen

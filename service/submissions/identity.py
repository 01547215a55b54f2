"""Who signed, in the form every later step compares: withdrawal, amendment, filing on behalf, sign-in."""

from __future__ import annotations

import unicodedata
from typing import Any

from signing.report import VerificationReport


def fold(text: str) -> str:
    """Names as compared: NFKC (full-width and half-width alike), spaces removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def identity(report: VerificationReport) -> dict[str, Any]:
    """Who signed, as a later withdrawal must match it (a renewed certificate still matches)."""
    signer = report.signer
    if report.holder is not None and report.holder.name is not None:
        birth = report.holder.birth_date.isoformat() if report.holder.birth_date else None
        return {"class": "jpki", "name": fold(report.holder.name), "birth_date": birth}
    return {"class": signer.certificate_class if signer else None, "subject": signer.subject if signer else None}

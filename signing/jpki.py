"""What the My Number card's signing certificate says, and how to read it.

Sources: J-LIS 公的個人認証サービス 署名用電子証明書 profile. The holder's four basic items (基本4情報)
are subjectAltName otherNames; the date of birth is ``EYYYYMMDD`` with E an era code whose digits
are nevertheless Gregorian.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec
from asn1crypto import core, x509

#: certificatePolicies of the signing certificate (署名用), of J-LIS test cards, and of the
#: user-authentication certificate (利用者証明用), which must never count as a signature.
SIGNING_POLICY: Final = "1.2.392.200149.8.5.1.1.20"
TEST_SIGNING_POLICY: Final = "1.2.392.200149.8.5.1.0.20"
AUTHENTICATION_POLICY: Final = "1.2.392.200149.8.5.1.3.30"

NAME: Final = "1.2.392.200149.8.5.5.1"
NAME_SUBSTITUTE: Final = "1.2.392.200149.8.5.5.2"
GENDER: Final = "1.2.392.200149.8.5.5.3"
BIRTH: Final = "1.2.392.200149.8.5.5.4"
ADDRESS: Final = "1.2.392.200149.8.5.5.5"
ADDRESS_SUBSTITUTE: Final = "1.2.392.200149.8.5.5.6"

ERAS: Final = {"1": "明治", "2": "大正", "3": "昭和", "4": "平成", "5": "令和"}
#: The first day of each era, newest first (明治 by the Gregorian date of its proclamation).
ERA_STARTS: Final = (
    ("5", dt.date(2019, 5, 1)),
    ("4", dt.date(1989, 1, 8)),
    ("3", dt.date(1926, 12, 25)),
    ("2", dt.date(1912, 7, 30)),
    ("1", dt.date(1868, 10, 23)),
)
Gender = Literal["male", "female", "unknown"]
#: The gender item's codes (性別: 1 男, 2 女, 3 不明).
GENDERS: Final[dict[str, Gender]] = {"1": "male", "2": "female", "3": "unknown"}
GENDER_CODES: Final = {value: code for code, value in GENDERS.items()}

#: Each item's otherName type and the string type its value is encoded in, by a short key.
ITEMS: Final[dict[str, tuple[str, type[core.AbstractString]]]] = {
    "name": (NAME, core.UTF8String),
    "name_substitute": (NAME_SUBSTITUTE, core.UTF8String),
    "gender": (GENDER, core.PrintableString),
    "birth": (BIRTH, core.PrintableString),
    "address": (ADDRESS, core.UTF8String),
    "address_substitute": (ADDRESS_SUBSTITUTE, core.UTF8String),
}

#: Licensed professions whose associations' CAs are trust classes of their own (提出代行): 社会保険労務士,
#: 行政書士, 税理士, 司法書士.
Profession = Literal["sharoushi", "gyouseishoshi", "zeirishi", "shihoshoshi"]
PROFESSIONS: Final[frozenset[Profession]] = frozenset({"sharoushi", "gyouseishoshi", "zeirishi", "shihoshoshi"})
PROFESSION_NAMES: Final[dict[str, str]] = {
    "sharoushi": "社会保険労務士", "gyouseishoshi": "行政書士", "zeirishi": "税理士", "shihoshoshi": "司法書士",
}  # fmt: skip
CertificateClass = Literal["jpki", "corporate", "accredited", "sharoushi", "gyouseishoshi", "zeirishi", "shihoshoshi"]


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """The four basic items as the certificate states them (personal data: never log it)."""

    name: str | None
    name_has_substitutes: bool
    gender: Gender | None
    birth_date: dt.date | None
    birth_era: str | None
    address: str | None
    address_has_substitutes: bool


def decode_birth(value: str) -> tuple[dt.date, str] | None:
    """``EYYYYMMDD`` → (Gregorian date, era name); None when it is not that shape."""
    if len(value) != 9 or not value.isdigit() or value[0] not in ERAS:
        return None
    try:
        return dt.date(int(value[1:5]), int(value[5:7]), int(value[7:9])), ERAS[value[0]]
    except ValueError:
        return None


def encode_birth(date: dt.date) -> str:
    """The ``EYYYYMMDD`` form of a date of birth: the era it falls in, then the Gregorian digits."""
    era = next((code for code, start in ERA_STARTS if date >= start), None)
    if era is None:
        raise ValueError(f"{date} is before 明治: no JPKI era code")
    return f"{era}{date:%Y%m%d}"


def other_names(items: dict[str, str]) -> list[tuple[str, bytes]]:
    """The holder's items (keys of ``ITEMS``) as otherNames: (type-id, DER of the value).

    The value is the DER of the string alone; the caller wraps it in ``[0] EXPLICIT`` as AnotherName
    wants (cryptography's ``OtherName`` does so itself), so that what ``holder()`` reads is exactly
    what was written, for test cards and the test PKI alike.
    """
    encoded = []
    for key, value in items.items():
        oid, string_type = ITEMS[key]
        encoded.append((oid, string_type(value).dump()))
    return encoded


def holder(cert: x509.Certificate) -> Holder | None:
    """The holder's items, or None when the certificate carries none (not a JPKI certificate)."""
    san = cert.subject_alt_name_value
    if san is None:
        return None
    items: dict[str, str] = {}
    for general_name in san:
        if general_name.name != "other_name":
            continue
        other = general_name.chosen
        try:
            value = other["value"].parsed.native
        except ValueError:
            continue
        if isinstance(value, str):
            items[other["type_id"].dotted] = value
    if not items.keys() & {NAME, GENDER, BIRTH, ADDRESS}:
        return None
    birth = decode_birth(items.get(BIRTH, ""))
    return Holder(
        name=items.get(NAME),
        name_has_substitutes=NAME_SUBSTITUTE in items,
        gender=GENDERS.get(items.get(GENDER, "")),
        birth_date=birth[0] if birth else None,
        birth_era=birth[1] if birth else None,
        address=items.get(ADDRESS),
        address_has_substitutes=ADDRESS_SUBSTITUTE in items,
    )


def policies(cert: x509.Certificate) -> frozenset[str]:
    value = cert.certificate_policies_value
    return frozenset(p["policy_identifier"].dotted for p in value) if value is not None else frozenset()

"""SQL for the trust store."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Final, LiteralString

import asyncpg
import msgspec

from service.trust.schemas import AnchorOut, CertificateOut, CRLOut

_ANCHOR_COLUMNS: Final = (
    "id, certificate_class, test, subject, encode(sha256, 'hex') AS sha256, encode(key_id, 'hex') AS key_id, "
    "not_after, crl_url, ocsp_url, created_at"
)
INSERT_ANCHOR: Final[LiteralString] = f"""
    INSERT INTO trust_anchor
        (certificate_class, test, certificate, sha256, subject, key_id, not_after, crl_url, ocsp_url)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (sha256) DO NOTHING
    RETURNING {_ANCHOR_COLUMNS}"""  # noqa: S608
LIST_ANCHORS: Final[LiteralString] = f"""
    SELECT {_ANCHOR_COLUMNS} FROM trust_anchor
    WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"""  # noqa: S608
DELETE_ANCHOR: Final[LiteralString] = "DELETE FROM trust_anchor WHERE id = $1 RETURNING id"
TEST_ANCHOR_EXISTS: Final[LiteralString] = "SELECT EXISTS (SELECT 1 FROM trust_anchor WHERE sha256 = $1 AND test)"
ANCHOR_MATERIAL: Final[LiteralString] = (
    "SELECT certificate_class, test, certificate, crl_url, ocsp_url FROM trust_anchor"
)

_CERT_COLUMNS: Final = "id, subject, encode(sha256, 'hex') AS sha256, created_at"
INSERT_CERTIFICATE: Final[LiteralString] = f"""
    INSERT INTO trust_certificate (certificate, sha256, subject) VALUES ($1, $2, $3)
    ON CONFLICT (sha256) DO NOTHING RETURNING {_CERT_COLUMNS}"""  # noqa: S608
LIST_CERTIFICATES: Final[LiteralString] = f"""
    SELECT {_CERT_COLUMNS} FROM trust_certificate WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"""  # noqa: S608
CERTIFICATE_MATERIAL: Final[LiteralString] = "SELECT certificate FROM trust_certificate"

_CRL_COLUMNS: Final = (
    "id, encode(issuer_key_id, 'hex') AS issuer_key_id, encode(sha256, 'hex') AS sha256, "
    "crl_number::bigint AS crl_number, this_update, next_update, revoked_count, created_at"
)
INSERT_CRL: Final[LiteralString] = f"""
    INSERT INTO trust_crl (issuer_key_id, crl, sha256, crl_number, this_update, next_update, revoked_count)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (sha256) DO NOTHING RETURNING {_CRL_COLUMNS}"""  # noqa: S608
LIST_CRLS: Final[LiteralString] = f"""
    SELECT {_CRL_COLUMNS} FROM trust_crl WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"""  # noqa: S608
#: The newest CRL per issuing key: older ones stay for the record, only these are used.
CRL_MATERIAL: Final[LiteralString] = """
    SELECT DISTINCT ON (issuer_key_id) crl FROM trust_crl ORDER BY issuer_key_id, this_update DESC"""
#: The newest answer per certificate.
OCSP_MATERIAL: Final[LiteralString] = """
    SELECT DISTINCT ON (issuer_key_id, serial) response FROM trust_ocsp
    ORDER BY issuer_key_id, serial, this_update DESC"""
INSERT_OCSP: Final[LiteralString] = """
    INSERT INTO trust_ocsp (issuer_key_id, serial, response, sha256, status, produced_at, this_update, next_update)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sha256) DO NOTHING"""
SELECT_OCSP_URL: Final[LiteralString] = "SELECT ocsp_url FROM trust_anchor WHERE sha256 = $1"
TRUST_GENERATION: Final[LiteralString] = """
    SELECT (SELECT count(*) FROM trust_anchor) || ':' || (SELECT count(*) FROM trust_certificate) || ':' ||
           coalesce((SELECT max(created_at)::text FROM trust_crl), '') || ':' ||
           coalesce((SELECT max(created_at)::text FROM trust_anchor), '') || ':' ||
           coalesce((SELECT max(created_at)::text FROM trust_ocsp), '')"""


async def insert_anchor(
    conn: asyncpg.Connection,
    certificate_class: str,
    test: bool,
    der: bytes,
    sha256: bytes,
    subject: str,
    key_id: bytes,
    not_after: dt.datetime,
    crl_url: str | None,
    ocsp_url: str | None,
) -> AnchorOut | None:
    row = await conn.fetchrow(
        INSERT_ANCHOR, certificate_class, test, der, sha256, subject, key_id, not_after, crl_url, ocsp_url
    )
    return None if row is None else AnchorOut(**dict(row))


async def test_anchor_exists(conn: asyncpg.Connection, sha256: bytes) -> bool:
    exists: bool = await conn.fetchval(TEST_ANCHOR_EXISTS, sha256)
    return exists


async def list_anchors(conn: asyncpg.Connection, after: uuid.UUID | None, limit: int) -> list[AnchorOut]:
    return [AnchorOut(**dict(r)) for r in await conn.fetch(LIST_ANCHORS, after, limit)]


async def delete_anchor(conn: asyncpg.Connection, anchor_id: uuid.UUID) -> bool:
    return await conn.fetchval(DELETE_ANCHOR, anchor_id) is not None


async def insert_certificate(
    conn: asyncpg.Connection, der: bytes, sha256: bytes, subject: str
) -> CertificateOut | None:
    row = await conn.fetchrow(INSERT_CERTIFICATE, der, sha256, subject)
    return None if row is None else CertificateOut(**dict(row))


async def list_certificates(conn: asyncpg.Connection, after: uuid.UUID | None, limit: int) -> list[CertificateOut]:
    return [CertificateOut(**dict(r)) for r in await conn.fetch(LIST_CERTIFICATES, after, limit)]


async def insert_crl(
    conn: asyncpg.Connection,
    issuer_key_id: bytes,
    der: bytes,
    sha256: bytes,
    number: int | None,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
    revoked_count: int,
) -> CRLOut | None:
    row = await conn.fetchrow(INSERT_CRL, issuer_key_id, der, sha256, number, this_update, next_update, revoked_count)
    return None if row is None else CRLOut(**dict(row))


async def list_crls(conn: asyncpg.Connection, after: uuid.UUID | None, limit: int) -> list[CRLOut]:
    return [CRLOut(**dict(r)) for r in await conn.fetch(LIST_CRLS, after, limit)]


class Material(msgspec.Struct, frozen=True):
    anchors: list[asyncpg.Record]
    certificates: list[bytes]
    crls: list[bytes]
    ocsp_responses: list[bytes]


async def material(conn: asyncpg.Connection) -> Material:
    return Material(
        list(await conn.fetch(ANCHOR_MATERIAL)),
        [r["certificate"] for r in await conn.fetch(CERTIFICATE_MATERIAL)],
        [r["crl"] for r in await conn.fetch(CRL_MATERIAL)],
        [r["response"] for r in await conn.fetch(OCSP_MATERIAL)],
    )


async def insert_ocsp(
    conn: asyncpg.Connection,
    issuer_key_id: bytes,
    serial: int,
    der: bytes,
    sha256: bytes,
    status: str,
    produced_at: dt.datetime,
    this_update: dt.datetime,
    next_update: dt.datetime | None,
) -> None:
    await conn.execute(INSERT_OCSP, issuer_key_id, serial, der, sha256, status, produced_at, this_update, next_update)


async def ocsp_url(conn: asyncpg.Connection, anchor_sha256: bytes) -> str | None:
    url: str | None = await conn.fetchval(SELECT_OCSP_URL, anchor_sha256)
    return url


async def generation(conn: asyncpg.Connection) -> str:
    value: str = await conn.fetchval(TRUST_GENERATION)
    return value

"""Console actions that the API performs inside a route, given here to the console's cookie-signed staff."""

from __future__ import annotations

from typing import Final

import asyncpg

from service.access import Access
from service.audit import trail
from service.auth import service as auth_service
from service.auth.schemas import Principal, TokenOut
from service.submissions import queries as submission_queries
from service.submissions import statements
from signing.fonts import Typeface
from signing.receipt_keys import ReceiptKey

#: An agency has a few dozen clerks; the staff page and the assignment list show them on one page.
STAFF_PAGE: Final = 200


async def receipt_pdf(conn: asyncpg.Connection, who: Access, key: ReceiptKey, typeface: Typeface) -> bytes:
    """The latest revision's receipt PDF; the download is audited exactly as the API's receipt route does."""
    latest = await conn.fetchrow(submission_queries.SELECT_LATEST_REVISION, who.submission_id)
    assert latest is not None  # a submission always has a first revision
    await trail.record(
        conn, actor=who.actor, role=who.role, agency=who.agency, action="receipt.downloaded",
        subject=str(who.submission_id), details={"format": "pdf", "revision": latest["number"]},
    )  # fmt: skip
    return await statements.receipt_pdf(conn, latest, key, typeface)


async def agency_tokens(conn: asyncpg.Connection, who: Principal) -> list[TokenOut]:
    """The agency's tokens (agency admins only: the token service decides), newest last."""
    page = await auth_service.list_tokens(conn, who, None, None, STAFF_PAGE)
    return page.items


async def active_clerks(conn: asyncpg.Connection, who: Principal) -> list[TokenOut]:
    return [t for t in await agency_tokens(conn, who) if t.role == "clerk" and t.revoked_at is None]

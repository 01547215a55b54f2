"""Who may see one application: the one place a request's bearer token becomes an ``Access``.

Two kinds of caller reach an application's routes: its applicant, with the access token (``sbm_``)
issued at intake or a card sign-in (``aps_``) of someone who signed it, and its agency's staff, with
an API token. Both are judged here, for the
applicant's routes (``service.submissions``) and the staff's (``service.review``) alike, and every
other route that takes a bearer token reads it with ``auth.tokens.bearer``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Final

import asyncpg
import msgspec

from service.applicants import queries as applicant_queries
from service.applicants import service as applicants
from service.auth import tokens
from service.auth.principal import require_role, resolve_token
from service.auth.schemas import Principal
from service.problems import NotFound, Unauthenticated
from service.retention.tombstones import refuse_purged
from service.submissions import queries

#: Marks applicant access tokens (secret scanners find leaked ones by it).
APPLICANT_TOKEN_PREFIX: Final = "sbm_"  # noqa: S105 - a prefix, not a secret
#: The roles that work an agency's applications.
STAFF: Final = ("clerk", "agency-admin")


def new_applicant_token() -> tuple[str, bytes]:
    """An applicant's access token, shown once, and the digest that is stored."""
    token = tokens.generate(APPLICANT_TOKEN_PREFIX)
    return token, tokens.digest(token)


class Access(msgspec.Struct, frozen=True, kw_only=True):
    """Who is looking at one application: its applicant (by the access token) or a member of staff."""

    submission_id: uuid.UUID
    agency: str
    staff: Principal | None

    @property
    def actor(self) -> str:
        return "applicant" if self.staff is None else str(self.staff.token_id)

    @property
    def role(self) -> str:
        return "applicant" if self.staff is None else self.staff.role


async def applicant(conn: asyncpg.Connection, submission_id: uuid.UUID, token: str | None) -> queries.SubmissionRow:
    """The applicant's routes need the submission's access token; a wrong one looks like no submission."""
    if token is None:
        raise Unauthenticated("Send the submission's access token as a bearer token.")
    row = await queries.submission(conn, submission_id)
    if row is None or not secrets.compare_digest(row.access_token_hash, tokens.digest(token)):
        raise NotFound(f"There is no submission {submission_id}.")
    return row


async def staff(conn: asyncpg.Connection, who: Principal, submission_id: uuid.UUID) -> Access:
    """A clerk or agency admin of the application's agency; otherwise 404 (or 403 for a platform admin)."""
    require_role(who, *STAFF)
    row = await queries.submission(conn, submission_id)
    if row is None or who.agency_code != row.agency_code:
        raise NotFound(f"There is no submission {submission_id}.")
    await refuse_purged(conn, row.id)  # retention: a purged application's content is gone (410)
    return Access(submission_id=row.id, agency=row.agency_code, staff=who)


async def card_holder(conn: asyncpg.Connection, submission_id: uuid.UUID, token: str) -> Access:
    """A card sign-in (``aps_`` session token) opens the applications it lists: those its holder signed.

    Another's application is a 404, as for a wrong access token; an unknown or expired session a 401.
    The session only reads: withdrawal and nonces still take the application's own access token.
    """
    holder = await applicants.holder_of(conn, token)
    row = await queries.submission(conn, submission_id)
    if row is None or not await applicant_queries.signed_by_holder(conn, submission_id, holder):
        raise NotFound(f"There is no submission {submission_id}.")
    return Access(submission_id=row.id, agency=row.agency_code, staff=None)


async def access(conn: asyncpg.Connection, submission_id: uuid.UUID, authorization: str | None) -> Access:
    """The applicant (``sbm_`` access token, or an ``aps_`` card sign-in) or staff (an API token)."""
    token = tokens.bearer(authorization)
    if token is None:
        raise Unauthenticated("Send the submission's access token, or a staff token, as a bearer token.")
    if token.startswith(APPLICANT_TOKEN_PREFIX):
        row = await applicant(conn, submission_id, token)
        await refuse_purged(conn, row.id)  # retention: a purged application's content is gone (410)
        return Access(submission_id=row.id, agency=row.agency_code, staff=None)
    if token.startswith(applicants.TOKEN_PREFIX):
        return await card_holder(conn, submission_id, token)
    return await staff(conn, await resolve_token(token, conn), submission_id)

"""Card sign-in rules: a challenge, its authentication signature, the card's link to its holder, a session.

The holder of a card is known by the identity a signing certificate states (name and birth date,
as ``submissions.identity`` folds them for withdrawal), never by the authentication
certificate, which states nothing about its holder. The first sign-in with a card therefore signs
the challenge twice, with the authentication key and with the signing key of the same card: both
keys at once (and both PINs) link the authentication certificate to that identity. A renewed card
is linked the same way, and finds the applications signed with the old one, since the holder's
identity is the same. Sessions are short, their tokens stored only as hashes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import uuid
from typing import Any, Final

import asyncpg
import msgspec

from service.applicants import queries
from service.applicants.schemas import ApplicantSubmission, ChallengeOut, SessionIn, SessionOut
from service.audit import trail
from service.auth import tokens
from service.pagination import Page, decode_cursor, page
from service.problems import AuthenticationFailed, CardNotLinked, Unauthenticated
from service.submissions.identity import identity
from signing import canonical
from signing.authentication import verify_authentication
from signing.report import VerificationReport
from signing.verify import Bounds, Policy, Verifier

TOKEN_PREFIX: Final = "aps_"  # noqa: S105 - marks applicant session tokens for secret scanners, not a secret
CHALLENGE_LIFETIME: Final = dt.timedelta(minutes=5)
PURPOSE: Final = "shinsei-applicant-sign-in"


def challenge_document(challenge: str) -> bytes:
    """What the card signs: the challenge with its purpose, so the bytes cannot pass for anything else."""
    return canonical.encode({"challenge": challenge, "purpose": PURPOSE})


async def issue_challenge(conn: asyncpg.Connection) -> ChallengeOut:
    challenge = secrets.token_urlsafe(32)
    expires = await queries.insert_challenge(conn, challenge, CHALLENGE_LIFETIME)
    return ChallengeOut(challenge=challenge, document=challenge_document(challenge).decode(), expires_at=expires)


def _refused(what: str, report: VerificationReport) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"The {what} does not verify: {report.sub_indication or report.indication}.",
        extensions={"report": msgspec.to_builtins(report)},
    )


async def _linked(
    conn: asyncpg.Connection,
    verifier: Verifier,
    document: bytes,
    signature: bytes,
    bounds: Bounds,
    accept_test: bool,
    auth_sha256: bytes,
) -> dict[str, Any]:
    """Verify the signing certificate's signature over the same challenge, and link the card to its holder."""
    report = await verifier.averify(
        document, signature, Policy(classes=frozenset({"jpki"}), accept_test=accept_test), bounds
    )
    if not report.passed or report.signer is None:
        raise _refused("signature with the card's signing certificate (link_signature)", report)
    holder = identity(report)
    if holder.get("class") != "jpki" or not holder.get("name") or not holder.get("birth_date"):
        raise AuthenticationFailed("The signing certificate does not state its holder's name and birth date.")
    await queries.link_card(conn, auth_sha256, bytes.fromhex(report.signer.sha256), holder)
    return holder


async def open_session(
    conn: asyncpg.Connection,
    data: SessionIn,
    verifier: Verifier,
    now: dt.datetime,
    lifetime: dt.timedelta,
    *,
    accept_test: bool = False,
) -> SessionOut:
    """Verify the sign-in and issue a session token (shown once).

    The challenge is consumed at once; a refusal rolls that back with the rest, which gives an
    attacker nothing (a signature by the card is what is missing), while a successful sign-in can
    never be replayed.
    """
    issued = await queries.consume_challenge(conn, data.challenge)
    if issued is None:
        raise AuthenticationFailed("The challenge is unknown, already used, or expired; ask for a new one.")
    document = challenge_document(data.challenge)
    bounds = Bounds(validation_time=now, signed_after=issued)
    report = await asyncio.to_thread(
        verify_authentication, verifier.store, document, data.signature, bounds, accept_test=accept_test
    )
    if not report.passed or report.signer is None:
        raise _refused("signature with the card's authentication certificate", report)
    auth_sha256 = bytes.fromhex(report.signer.sha256)
    if data.link_signature is not None:
        holder = await _linked(conn, verifier, document, data.link_signature, bounds, accept_test, auth_sha256)
    elif (found := await queries.linked_identity(conn, auth_sha256)) is not None:
        holder = found
    else:
        raise CardNotLinked(
            "Sign the same challenge with this card's signing certificate too (link_signature), once: "
            "the authentication certificate does not say whose card it is."
        )
    token = tokens.generate(TOKEN_PREFIX)
    expires = await queries.insert_session(conn, tokens.digest(token), auth_sha256, holder, lifetime)
    # Not the holder (personal data): the session by its token's digest, as the session row is keyed.
    await trail.record(
        conn, actor="applicant", role="applicant", agency=None, action="applicant.session_opened",
        subject=tokens.digest(token).hex(), details={"linked": data.link_signature is not None, "test": report.test},
        at=now,
    )  # fmt: skip
    return SessionOut(session_token=token, expires_at=expires, linked=data.link_signature is not None)


async def holder_of(conn: asyncpg.Connection, token: str | None) -> dict[str, Any]:
    """The identity behind an applicant session token; 401 for none, an unknown or an expired one."""
    if token is None:
        raise Unauthenticated("Sign in with your card and send the session token as a bearer token.")
    holder = None if len(token) > 200 else await queries.session_identity(conn, tokens.digest(token))
    if holder is None:
        raise Unauthenticated("The session token is unknown or has expired; sign in again.")
    return holder


async def close_session(conn: asyncpg.Connection, token: str | None) -> None:
    await holder_of(conn, token)
    assert token is not None  # holder_of refuses a missing token
    await queries.delete_session(conn, tokens.digest(token))


async def list_submissions(
    conn: asyncpg.Connection, token: str | None, cursor: str | None, limit: int
) -> Page[ApplicantSubmission]:
    """Every application signed by the card's holder (any of their cards), newest first, a page at a time."""
    holder = await holder_of(conn, token)
    after = decode_cursor(cursor, dt.datetime, uuid.UUID)
    rows = await queries.submissions_for(conn, holder, after, limit + 1)
    return page(rows, limit, lambda r: (r.created_at.isoformat(), str(r.submission_id)))


async def purge_expired_sign_in(conn: asyncpg.Connection, now: dt.datetime, batch: int) -> int:
    """For housekeeping: delete up to ``batch`` expired challenges and up to ``batch`` expired sessions."""
    return await queries.purge_sign_in(conn, now, batch)

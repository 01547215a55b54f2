"""Receipts and decision notices printed as PDF: what the page says besides the signed statement."""

from __future__ import annotations

import uuid
from typing import Final

import asyncpg
import msgspec

from service.agencies import queries as agency_queries
from service.submissions import queries
from service.submissions.schemas import Links
from service.submissions.signatures import (
    summary,
)
from signing.fonts import Typeface
from signing.receipt_keys import ReceiptKey
from signing.receipt_pdf import Presentation, render_pdf
from signing.receipts import DecisionNotice, Receipt, Statement
from signing.report import VerificationReport

RECEIPT_CHAIN_PATH: Final = "/api/v1/receipts/certificate"


async def presentation(conn: asyncpg.Connection, statement: Statement) -> Presentation:
    """What the PDF says besides the signed statement.

    The names come from the catalogue and from the signatures as verified; the addresses are where the
    signed JSON and the agency's chain are published, so that a reader can check the paper offline.
    """
    agency = await agency_queries.get_agency(conn, statement.agency)
    procedure_name = await queries.receipt_procedure_name(conn, statement.receipt_number)
    reports = [
        msgspec.convert(report, VerificationReport)
        for report in await queries.receipt_signer_reports(conn, statement.receipt_number)
    ]
    submission_links = Links.of(uuid.UUID(statement.submission_id), decided=isinstance(statement, DecisionNotice))
    return Presentation(
        agency_name=agency.name_ja if agency else statement.agency,
        procedure_name=procedure_name or statement.form_id,
        applicants=[name for report in reports if (name := summary(report).name)],
        statement_url=submission_links.decision_notice or submission_links.receipt,
        chain_url=RECEIPT_CHAIN_PATH,
        test=any(report.test for report in reports),
    )


async def print_statement(conn: asyncpg.Connection, statement: Statement, key: ReceiptKey, typeface: Typeface) -> bytes:
    """The signed PDF of a receipt or a decision notice, written for the person who reads it."""
    return await render_pdf(statement, await presentation(conn, statement), key.signer, typeface)


async def receipt_pdf(conn: asyncpg.Connection, revision: asyncpg.Record, key: ReceiptKey, typeface: Typeface) -> bytes:
    """A revision's receipt PDF: rendered on first request, then kept (the JSON and its CMS are the receipt)."""
    pdf: bytes | None = revision["receipt_pdf"]
    if pdf is None:
        receipt = msgspec.json.decode(revision["receipt_json"], type=Receipt)
        pdf = await print_statement(conn, receipt, key, typeface)
        await conn.execute(queries.SET_RECEIPT_PDF, revision["id"], pdf)
    return pdf

"""The one-page PDF of a receipt or a decision notice: laid out for a person, signed as PAdES with a visible stamp.

Japanese text is set in Noto Sans JP, which the install brings (``justmytype-intl-cjk``, prepared by
``signing.fonts``): nothing is assumed of the host's fonts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from typing import Final, NamedTuple

import msgspec
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStamp, TextStampStyle

from signing.client import KeptKeySigner
from signing.fonts import Font, JapaneseFont, Typeface
from signing.jpki import PROFESSION_NAMES
from signing.receipts import DecisionNotice, Receipt, Statement

A4: Final = (0, 0, 595, 842)


class Presentation(msgspec.Struct, frozen=True, kw_only=True):
    """What the PDF tells a person besides the signed statement, looked up by the caller.

    None of it is in the signed JSON: names change in the catalogue, and the applicant's name is
    personal data the receipt's digests already bind to (the signatures name the signer).
    """

    agency_name: str
    procedure_name: str
    """The procedure's Japanese name (手続の名称), as the catalogue gives it."""
    applicants: list[str]
    """Who signed, as their certificates say (a JPKI holder's name, otherwise the subject), in order."""
    statement_url: str
    """Where the signed JSON is downloaded; its detached CMS is beside it as ``.p7s``."""
    chain_url: str
    """Where the agency's receipt chain is published (receipt certificate first, root last)."""
    test: bool = False
    """A signature was made with a test certificate (for a notice; a receipt says so itself)."""


#: How the verdict at receipt reads to a person; the indication itself is in the signed JSON.
STATUS_WORDS: Final = {
    "TOTAL_PASSED": "署名を確認しました / Signature verified",
    "INDETERMINATE": "署名の確認中（失効情報の更新待ち） / Signature check pending (waiting for revocation data)",
    "TOTAL_FAILED": "署名を確認できませんでした / Signature not valid",
}
TEST_BANNER: Final = (
    "試験用 / TEST　試験用の証明書による署名です。実際の申請の証拠にはなりません。\n"
    "Signed with a test certificate: this is not evidence of a real application."
)
JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")

# The page (A4, in points from the bottom left): the title, the test banner when there is one, then
# the text in one box above the signature stamp in the bottom right corner.
MARGIN: Final = 40
WIDTH: Final = A4[2] - 2 * MARGIN
TITLE_Y: Final = 770
BANNER_Y: Final = 712
BODY_BOTTOM: Final = 175
BODY_GAP: Final = 14
STAMP_BOX: Final = (380, 60, 555, 160)
#: Largest first: the first size at which everything fits on the page is used.
FONT_SIZES: Final = (11, 10, 9, 8, 7)
RED: Final = (0.75, 0.0, 0.0)


Item = tuple[int, str]
"""A paragraph and its indentation in ems; lines it wraps onto are indented one em more."""


def _is_test(statement: Statement, presentation: Presentation) -> bool:
    return presentation.test or (isinstance(statement, Receipt) and statement.test)


def _verification(statement: Statement, presentation: Presentation) -> list[Item]:
    json_name, cms_name = (
        ("receipt.json", "receipt.p7s")
        if isinstance(statement, Receipt)
        else ("decision-notice.json", "decision-notice.p7s")
    )
    cms_url = presentation.statement_url.removesuffix(".json") + ".p7s"
    # Each address on a line of its own: broken at a hyphen, a reader could not tell whether it belongs.
    return [
        (0, ""),
        (0, "確認方法 How to verify"),
        (1, "この文書は行政機関の鍵で電子署名されています。署名された内容（JSON）と署名（CMS）を取得し、"
            "機関の証明書で誰でも確認できます。 It is signed by the agency; anyone can check it offline."),
        (1, f"署名された内容 Signed statement ({json_name}):"),
        (2, presentation.statement_url),
        (1, f"その署名 Its signature ({cms_name}):"),
        (2, cms_url),
        (1, "機関の証明書 Agency chain (chain.pem):"),
        (2, presentation.chain_url),
        (1, f"確認 Check: shinsei verify-receipt {json_name} {cms_name} --trust chain.pem"),
        (1, "このPDFの署名 This PDF: pyhanko sign validate --trust chain.pem <this PDF>"),
    ]  # fmt: skip


class Body(NamedTuple):
    """The text under the title: a head and a tail always shown, and the middle between them.

    The middle (the files, or the message's paragraphs) gives way when even the smallest size cannot
    hold everything.
    """

    head: list[Item]
    middle: list[list[Item]]
    """Groups of paragraphs, kept or left out whole unless ``partial``."""
    tail: list[Item]
    partial: bool = False
    """A group may be cut between its lines (the message), not only left out whole (a file and its digest)."""


def _lines(receipt: Receipt, presentation: Presentation) -> Body:
    received = receipt.received_at.astimezone(JST)
    status = STATUS_WORDS.get(receipt.verification, receipt.verification)
    head: list[Item] = [
        (0, f"手続 Procedure: {presentation.procedure_name}"),
        *_parties(receipt, presentation),
        (0, f"提出先 Agency: {presentation.agency_name} ({receipt.agency})"),
        (0, f"受付番号 Receipt number: {receipt.receipt_number}"),
        (0, f"受付日時 Received at: {received:%Y年%m月%d日 %H時%M分} (JST)"),
        (0, f"署名（受付時） Signature at receipt: {status}"),
        (0, f"様式 Form: {receipt.form_id} 第{receipt.form_version}版"),
        (0, f"申請番号 Submission: {receipt.submission_id}"),
        (0, ""),
        (0, "受け付けた書類と SHA-256 Files received"),
        (1, "申請書（署名されたデータ） Signed application"),
        (2, receipt.document_sha256),
    ]
    files = [[(1, attachment.filename), (2, attachment.sha256)] for attachment in receipt.attachments]
    return Body(head, files, _verification(receipt, presentation))


def _parties(receipt: Receipt, presentation: Presentation) -> list[Item]:
    """Who applied; filed on someone's behalf, who filed (with their profession) and for whom, from the signed JSON."""
    if isinstance(receipt.filed_by, msgspec.UnsetType) or isinstance(receipt.on_behalf_of, msgspec.UnsetType):
        return [(0, f"申請者 Applicant: {'、'.join(presentation.applicants) or '—'}")]
    profession = receipt.filed_by_profession
    title = "" if isinstance(profession, msgspec.UnsetType) else f"（{PROFESSION_NAMES[profession]}）"
    return [
        (0, f"申請者 Applicant: {receipt.on_behalf_of}"),
        (0, f"提出者 Filed by: {receipt.filed_by}{title}"),
    ]


def _notice_lines(notice: DecisionNotice, presentation: Presentation) -> Body:
    decided = notice.decided_at.astimezone(JST)
    verdict = {"approved": "承認 Approved", "rejected": "却下 Rejected"}[notice.decision]
    head: list[Item] = [
        (0, f"手続 Procedure: {presentation.procedure_name}"),
        (0, f"申請者 Applicant: {'、'.join(presentation.applicants) or '—'}"),
        (0, f"決定 Decision: {verdict}"),
        (0, f"行政機関 Agency: {presentation.agency_name} ({notice.agency})"),
        (0, f"通知番号 Notice number: {notice.notice_number}"),
        (0, f"決定日時 Decided at: {decided:%Y年%m月%d日 %H時%M分} (JST)"),
        (0, f"受付番号 Receipt number: {notice.receipt_number} (第{notice.revision}版)"),
        (0, f"様式 Form: {notice.form_id} 第{notice.form_version}版"),
        (0, f"申請番号 Submission: {notice.submission_id}"),
        (0, ""),
        (0, "理由・付記 Message:"),
    ]
    message = [[(1, paragraph)] for paragraph in notice.message.splitlines() or [""]]
    tail: list[Item] = [
        (0, ""),
        (0, "決定の対象の申請書 SHA-256 Application decided on"),
        (1, notice.document_sha256),
        *_verification(notice, presentation),
    ]
    return Body(head, message, tail, partial=True)


def _leading(size: int) -> int:
    return round(size * 1.5)


def _wrap(items: list[Item], font: Font, size: int) -> list[str]:
    indent = "\u3000"  # an ideographic space: one em, whatever the script of the line
    lines = []
    for depth, text in items:
        # Measured against the indentation of the lines it wraps onto, the first line included.
        wrapped = font.wrap(text, size, WIDTH - font.width(indent * (depth + 1), size))
        lines += [indent * depth + wrapped[0], *(indent * (depth + 1) + line for line in wrapped[1:])]
    return lines


def _wrap_body(body: Body, font: Font, size: int) -> tuple[list[str], list[list[str]], list[str]]:
    return (
        _wrap(body.head, font, size),
        [_wrap(group, font, size) for group in body.middle],
        _wrap(body.tail, font, size),
    )


def _layout(body: Body, font: Font, height: int) -> tuple[str, int]:
    """The text, wrapped to the box, at the largest size at which it fits in ``height``; and that size.

    pyHanko's text box neither wraps nor stops at the page's edge (it shrinks the whole box to fit
    its widest line), so lines are broken here, by the font's own widths. Where even the smallest
    size cannot hold it all (dozens of files, a long message), the middle gives way: the signed JSON
    has every word of it, and the page still says how to verify.
    """
    for size in FONT_SIZES:
        head, middle, tail = _wrap_body(body, font, size)
        if len(head) + sum(map(len, middle)) + len(tail) <= height // _leading(size):
            return "\n".join([*head, *(line for group in middle for line in group), *tail]), size
    size = FONT_SIZES[-1]
    head, middle, tail = _wrap_body(body, font, size)
    room = height // _leading(size) - len(head) - len(tail) - 1  # and a line to say what was left out
    kept: list[str] = []
    whole = 0
    for group in middle:
        if len(group) > room:
            kept += group[: max(room, 0)] if body.partial else []
            break
        kept, room, whole = kept + group, room - len(group), whole + 1
    if body.partial:
        count = sum(map(len, middle)) - len(kept)
        omitted = f"…（以下{count}行省略 / {count} more lines in the signed JSON）"
    else:
        count = len(middle) - whole
        omitted = f"…（ほか{count}件 / {count} more files in the signed JSON）"
    return "\n".join([*head, *kept, omitted, *tail]), size


def _text(
    writer: PdfFileWriter,
    font: JapaneseFont,
    text: str,
    size: int,
    box: tuple[int, int, int, int],
    *,
    color: tuple[float, float, float] | None = None,
    border: int = 0,
    padding: int = 0,
) -> None:
    """Set ``text`` top left in ``box`` (x, y, width, height) of the first page."""
    x, y, width, height = box
    top_left = layout.SimpleBoxLayoutRule(
        x_align=layout.AxisAlignment.ALIGN_MIN, y_align=layout.AxisAlignment.ALIGN_MAX, margins=layout.Margins()
    )
    stamp_style = TextStampStyle(
        stamp_text="%(text)s",
        # No margin inside the text box (pyHanko's default is 10 pt): the lines were measured to the box.
        text_box_style=TextBoxStyle(
            font=font, font_size=size, leading=_leading(size), text_color=color, box_layout_rule=top_left
        ),
        border_width=border,
        border_color=color,
        background=None,
        inner_content_layout=top_left.substitute_margins(layout.Margins(left=padding, right=padding, top=padding)),
    )
    box_constraints = layout.BoxConstraints(width=width, height=height)
    TextStamp(writer, stamp_style, text_params={"text": text}, box=box_constraints).apply(0, x, y)


async def render_pdf(
    statement: Statement, presentation: Presentation, signer: signers.Signer, typeface: Typeface
) -> bytes:
    """The one-page 受付票 or 決定通知書, signed as PAdES with a visible stamp.

    Rendering is CPU work of most of a second (font subsetting), and the font's first preparation is
    seconds more: with a key held in memory it all runs in a worker thread so the event loop keeps
    serving other requests meanwhile. A PKCS#11 session must not be used from two threads at once, so
    an HSM-held key signs on the loop's own thread once the page is laid out.
    """
    if isinstance(signer, KeptKeySigner):
        return await asyncio.to_thread(_render_pdf, statement, presentation, signer, typeface)
    writer, pdf_signer = await asyncio.to_thread(_prepare_pdf, statement, presentation, signer, typeface)
    out = io.BytesIO()
    await pdf_signer.async_sign_pdf(writer, output=out, appearance_text_params={"agency": presentation.agency_name})
    return out.getvalue()


def _render_pdf(statement: Statement, presentation: Presentation, signer: signers.Signer, typeface: Typeface) -> bytes:
    writer, pdf_signer = _prepare_pdf(statement, presentation, signer, typeface)
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=out, appearance_text_params={"agency": presentation.agency_name})
    return out.getvalue()


def _prepare_pdf(
    statement: Statement, presentation: Presentation, signer: signers.Signer, typeface: Typeface
) -> tuple[PdfFileWriter, signers.PdfSigner]:
    font = typeface.load()
    if isinstance(statement, DecisionNotice):
        title, field, seal = "決定通知書 / Decision notice", "Decision", "決定印"
        body = _notice_lines(statement, presentation)
    else:
        title, field, seal = "受付票 / Receipt", "Receipt", "受付印"
        body = _lines(statement, presentation)
    japanese = JapaneseFont(str(font.path), font=font)  # one engine, so one embedded subset, per writer
    writer = PdfFileWriter()  # type: ignore[no-untyped-call]  # pyHanko leaves this constructor unannotated
    blank = writer.add_object(generic.StreamObject(stream_data=b""))
    writer.insert_page(PageObject(contents=blank, media_box=A4))  # type: ignore[no-untyped-call]  # as above
    _text(writer, japanese, title, 18, (MARGIN, TITLE_Y, WIDTH, 40))
    top = TITLE_Y
    if _is_test(statement, presentation):
        seal += "（試験用 TEST）"
        _text(writer, japanese, TEST_BANNER, 11, (MARGIN, BANNER_Y, WIDTH, 48), color=RED, border=2, padding=8)
        top = BANNER_Y
    height = top - BODY_GAP - BODY_BOTTOM
    text, size = _layout(body, font, height)
    _text(writer, japanese, text, size, (MARGIN, BODY_BOTTOM, WIDTH, height))
    stamp = TextStampStyle(
        stamp_text=seal + "\n%(agency)s\n%(ts)s",
        text_box_style=TextBoxStyle(font=japanese, font_size=9, leading=_leading(9)),  # kanji need the room
        border_width=2,
        timestamp_format="%Y-%m-%d %H:%M:%S %Z",
    )
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name=field, subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256"),
        signer=signer,
        stamp_style=stamp,
        new_field_spec=fields.SigFieldSpec(sig_field_name=field, on_page=0, box=STAMP_BOX),
    )
    return writer, pdf_signer

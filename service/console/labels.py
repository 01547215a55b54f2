"""Every label of the console in Japanese and English; the chosen language comes first, the other beside it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal

from markupsafe import Markup

Lang = Literal["ja", "en"]
LANGS: Final[tuple[Lang, ...]] = ("ja", "en")
JST: Final = dt.timezone(dt.timedelta(hours=9), "JST")

LABELS: Final[dict[str, tuple[str, str]]] = {
    "console": ("審査・管理コンソール", "Review and admin console"),
    "sign_in": ("サインイン", "Sign in"),
    "sign_out": ("サインアウト", "Sign out"),
    "token": ("職員トークン", "Staff token"),
    "token_help": ("機関管理者が発行したトークンを入力してください。", "Enter the token your agency admin issued."),
    "bad_token": ("トークンが不明か、失効しています。", "The token is unknown or has been revoked."),
    "not_console_role": (
        "コンソールは機関の審査担当者と管理者のためのものです。",
        "The console is for an agency's clerks and admins.",
    ),
    "signed_out": ("サインアウトしました。", "You have signed out."),
    "language": ("言語", "Language"),
    "queue": ("審査キュー", "Review queue"),
    "forms": ("様式", "Forms"),
    "staff": ("職員", "Staff"),
    "api_docs": ("API仕様", "API documentation"),
    "filters": ("絞り込み", "Filters"),
    "apply": ("絞り込む", "Apply"),
    "status": ("状態", "Status"),
    "procedure": ("手続", "Procedure"),
    "form": ("様式", "Form"),
    "flag": ("注意", "Flag"),
    "assignee": ("担当", "Assignee"),
    "received_from": ("受付日（から）", "Received from"),
    "received_to": ("受付日（まで）", "Received until"),
    "any": ("すべて", "Any"),
    "me": ("自分", "Me"),
    "none": ("未割当", "Unassigned"),
    "receipt_number": ("受付番号", "Receipt number"),
    "received_at": ("受付日時", "Received"),
    "signer": ("署名者", "Signer"),
    "flags": ("注意事項", "Flags"),
    "next_page": ("次のページ", "Next page"),
    "first_page": ("最初のページ", "First page"),
    "claim_next": ("次の申請を担当する", "Claim next"),
    "queue_empty": ("担当できる申請はありません。", "There is no application left to claim."),
    "no_rows": ("該当する申請はありません。", "No application matches."),
    "application": ("申請", "Application"),
    "answers": ("申請内容", "Answers"),
    "signatures": ("電子署名", "Signatures"),
    "verdict": ("検証結果", "Verdict"),
    "holder_name": ("氏名", "Name"),
    "holder_birth_date": ("生年月日", "Date of birth"),
    "holder_address": ("住所", "Address"),
    "certificate_class": ("証明書の種類", "Certificate class"),
    "revocation": ("失効確認", "Revocation check"),
    "confirmed": ("確認済み", "confirmed"),
    "not_confirmed": ("未確認", "not confirmed"),
    "card_says": ("カードの記載", "The card says"),
    "attachments": ("添付書類", "Attachments"),
    "download": ("ダウンロード", "Download"),
    "revisions": ("版の履歴", "Revisions"),
    "changes": ("変更点", "Changes"),
    "before": ("変更前", "Before"),
    "after": ("変更後", "After"),
    "comments": ("内部メモ", "Internal comments"),
    "add_comment": ("メモを追加", "Add comment"),
    "timeline": ("経過", "Timeline"),
    "audit": ("監査記録", "Audit trail"),
    "downloads": ("書類", "Documents"),
    "receipt_pdf": ("受付票（PDF）", "Receipt (PDF)"),
    "bundle": ("証拠一式（ZIP）", "Evidence bundle (ZIP)"),
    "notice_pdf": ("決定通知書（PDF・署名付き）", "Decision notice (signed PDF)"),
    "decision": ("決定", "Decision"),
    "approve": ("承認", "Approve"),
    "reject": ("却下", "Reject"),
    "request_correction": ("補正を求める", "Request a correction"),
    "message": ("申請者へのメッセージ", "Message to the applicant"),
    "fields_to_fix": ("補正を求める項目", "Fields to correct"),
    "submit_decision": ("決定を送信", "Send decision"),
    "decided": ("決定を記録しました。", "The decision is recorded."),
    "stale": (
        "読んでいる間にこの申請は変更されました。最新の内容を確認してから決定してください。",
        "This application changed while you were reading. Check the latest version before deciding.",
    ),
    "state_conflict": ("この状態では実行できません。", "Not possible in this state."),
    "not_allowed_now": ("現在の状態で可能な決定はありません。", "No decision is possible in the current state."),
    "assign": ("担当者を割り当てる", "Assign to a clerk"),
    "release": ("担当を外す", "Release"),
    "clerk": ("審査担当者", "Clerk"),
    "role": ("役割", "Role"),
    "name": ("名前", "Name"),
    "issue_token": ("トークンを発行", "Issue a token"),
    "revoke": ("失効させる", "Revoke"),
    "revoked": ("失効", "Revoked"),
    "active": ("有効", "Active"),
    "created_at": ("作成日時", "Created"),
    "token_once": (
        "このトークンは一度だけ表示されます。今すぐ担当者に渡してください。",
        "This token is shown once. Hand it to the clerk now.",
    ),
    "versions": ("版", "Versions"),
    "version": ("版", "Version"),
    "preview": ("プレビュー", "Preview"),
    "publish": ("公開", "Publish"),
    "retire": ("廃止", "Retire"),
    "confirm": ("確認", "Confirm"),
    "cancel": ("取り消す", "Cancel"),
    "confirm_publish": (
        "この下書きを公開しますか。公開した版は変更できません。",
        "Publish this draft? A published version can no longer change.",
    ),
    "confirm_retire": (
        "この版を廃止しますか。新しい申請を受け付けなくなります。",
        "Retire this version? It will accept no new applications.",
    ),
    "upload_schema": ("様式定義をアップロード（YAML・JSON）", "Upload a form schema (YAML or JSON)"),
    "schema_file": ("様式定義ファイル", "Schema file"),
    "upload": ("アップロード", "Upload"),
    "schema_errors": ("様式定義に誤りがあります", "The schema has errors"),
    "uploaded": ("下書きを保存しました。", "The draft is saved."),
    "check_answers": ("この回答を確認する", "Check these answers"),
    "answers_ok": ("回答に誤りはありません。", "These answers are valid."),
    "answers_errors": ("修正が必要な項目があります", "Some answers need attention"),
    "add_item": ("行を追加", "Add item"),
    "remove_item": ("この行を削除", "Remove item"),
    "item": ("行", "Item"),
    "yes": ("はい", "Yes"),
    "no": ("いいえ", "No"),
    "unanswered": ("未回答", "Not answered"),
    "required": ("必須", "required"),
    "error_page": ("エラー", "Error"),
    "not_found": ("見つかりません", "Not found"),
    "not_found_detail": (
        "この申請または頁は存在しないか、あなたの機関のものではありません。",
        "This application or page does not exist, or does not belong to your agency.",
    ),
    "forbidden": ("権限がありません", "Not allowed"),
    "csrf": (
        "この送信は受け付けられません（フォームが古いか、別のサイトから送られました）。頁を読み直してください。",
        "This submission was refused (the form is stale or came from another site). Reload the page.",
    ),
    "back_to_queue": ("キューに戻る", "Back to the queue"),
    "skip": ("本文へ移動", "Skip to content"),
    "signed_in_as": ("サインイン中", "Signed in as"),
    "draft": ("下書き", "draft"),
    "published": ("公開中", "published"),
    "retired": ("廃止", "retired"),
    "done_published": ("公開しました。", "Published."),
    "done_retired": ("廃止しました。", "Retired."),
    "event": ("出来事", "Event"),
    "actor": ("実行者", "Actor"),
    "at": ("日時", "When"),
    "identity_mismatch": ("本人情報の不一致", "identity mismatch"),
    "verification_pending": ("失効確認待ち", "revocation check pending"),
    "revocation_unconfirmed": ("失効確認の確定待ち", "revocation not yet confirmed"),
    "test_signature": ("試験用の署名", "test signature"),
    "unread": ("未読", "unread"),
    "st_received": ("受付", "received"),
    "st_under_review": ("審査中", "under review"),
    "st_correction_requested": ("補正依頼中", "correction requested"),
    "st_signature_invalid": ("署名無効", "signature invalid"),
    "st_approved": ("承認", "approved"),
    "st_rejected": ("却下", "rejected"),
    "st_withdrawn": ("取下げ", "withdrawn"),
    "v_TOTAL_PASSED": ("有効", "valid"),
    "v_TOTAL_FAILED": ("無効", "invalid"),
    "v_INDETERMINATE": ("判定保留", "indeterminate"),
}


class Labels:
    """``t("queue")`` in a template: the chosen language first, the other in a quieter span beside it."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.other: Lang = "en" if lang == "ja" else "ja"

    def pair(self, ja: str, en: str | None) -> Markup:
        first, second = (ja, en) if self.lang == "ja" else (en or ja, ja if en else None)
        if not second or second == first:
            return Markup("<span>{}</span>").format(first)
        return Markup('<span>{}</span> <span class="alt" lang="{}">{}</span>').format(first, self.other, second)

    def __call__(self, key: str) -> Markup:
        ja, en = LABELS[key]
        return self.pair(ja, en)

    def plain(self, key: str) -> str:
        """One language only, for attributes (placeholders, aria-labels) and page titles."""
        ja, en = LABELS[key]
        return ja if self.lang == "ja" else en

    def text(self, value: Any) -> Markup:
        """A bilingual ``{ja, en}`` from a schema (a Struct or a dict)."""
        if isinstance(value, dict):
            return self.pair(str(value.get("ja", "")), value.get("en"))
        return self.pair(value.ja, value.en)

    def status(self, status: str) -> Markup:
        return self("st_" + status) if "st_" + status in LABELS else Markup("<span>{}</span>").format(status)

    def flag(self, flag: str) -> Markup:
        return self(flag) if flag in LABELS else Markup("<span>{}</span>").format(flag)

    def verdict(self, indication: str) -> Markup:
        key = "v_" + indication
        return self(key) if key in LABELS else Markup("<span>{}</span>").format(indication)


def jst(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")

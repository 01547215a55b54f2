"""``shinsei draft new|show|set|finalize``: the applicant's client for drafts, over the HTTP API.

Self-contained (it talks to a server, never to the database), so the command-line wiring only
registers it. ``finalize`` signs the exact bytes the server returns and submits them with the
draft's files through the normal intake, saving the receipt as ``shinsei submit`` does.
"""

from __future__ import annotations

import argparse
import mimetypes
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from service.applicant_client import ClientError, add_key_arguments, expect, http, reported, signer
from service.settings import Settings
from signing.client import sign_detached

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def _bearer(args: argparse.Namespace) -> dict[str, str]:
    token = args.token or os.environ.get("SHINSEI_DRAFT_TOKEN")
    if not token:
        raise ClientError("give the draft token with --token or SHINSEI_DRAFT_TOKEN")
    return {"Authorization": f"Bearer {token}"}


def _print(body: Any) -> None:
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(body).decode(), indent=2) + "\n")


def _value(text: str) -> Any:
    """``FIELD=VALUE``'s value: JSON when it parses (``12``, ``true``, ``null``), else the text itself."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def _answers_patch(args: argparse.Namespace) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if args.answers:
        loaded = msgspec.json.decode(Path(args.answers).read_bytes())
        if not isinstance(loaded, dict):
            raise ClientError(f"{args.answers}: the answers must be a JSON object")
        answers |= loaded
    for item in args.values:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise ClientError(f"{item!r}: write FIELD=VALUE")
        answers[field] = _value(value)
    return answers


@reported
def cmd_new(settings: Settings, args: argparse.Namespace) -> int:
    answers = msgspec.json.decode(Path(args.answers).read_bytes()) if args.answers else {}
    with http(args) as client:
        body = expect(client.post("/api/v1/drafts", json={"form_id": args.form, "answers": answers}), 201).json()
    sys.stdout.write(f"{body['draft_id']} {body['draft_token']}\n")  # alone on stdout, for scripts
    draft = body["draft"]
    sys.stderr.write(
        f"draft of {draft['form_id']} v{draft['form_version']}, kept until {body['expires_at']}; "
        f"{len(draft['errors'])} error(s), {len(draft['todo'])} to do\n"
    )
    return 0


@reported
def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    with http(args) as client:
        _print(expect(client.get(f"/api/v1/drafts/{args.draft_id}", headers=_bearer(args)), 200).json())
    return 0


@reported
def cmd_set(settings: Settings, args: argparse.Namespace) -> int:
    """Upload files and change answers in one go; prints the draft with its errors and what is to do."""
    headers = _bearer(args)
    answers = _answers_patch(args)
    with http(args) as client:
        for item in args.attach:
            field, sep, path = item.partition("=")
            if not sep or not field:
                raise ClientError(f"{item!r}: write FIELD=PATH")
            content = Path(path).read_bytes()
            media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            files = {"file": (Path(path).name, content, media_type)}
            sent = expect(client.post(f"/api/v1/drafts/{args.draft_id}/attachments", files=files, headers=headers), 201)
            answers[field] = {k: v for k, v in sent.json().items() if k != "href"}
        url = f"/api/v1/drafts/{args.draft_id}"
        if answers:
            patch = msgspec.json.encode({"answers": answers})
            draft = expect(client.patch(url, content=patch, headers=headers | MERGE_PATCH), 200).json()
        else:
            draft = expect(client.get(url, headers=headers), 200).json()
    _print(draft)
    return 0


def _declared_digests(value: Any) -> set[str]:
    """The SHA-256 of every file an answers document declares (attachment answers, at any depth)."""
    if isinstance(value, dict):
        found = {value["sha256"]} if isinstance(value.get("sha256"), str) and "media_type" in value else set()
        return found.union(*(_declared_digests(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_declared_digests(v) for v in value))
    return set()


@reported
def cmd_finalize(settings: Settings, args: argparse.Namespace) -> int:
    """Finalise, sign the bytes unchanged, submit them with the draft's files; save the receipt."""
    headers = _bearer(args)
    base = f"/api/v1/drafts/{args.draft_id}"
    with http(args) as client:
        draft = expect(client.get(base, headers=headers), 200).json()
        document = expect(client.post(f"{base}/finalize", headers=headers), 200).content
        if args.document:
            Path(args.document).write_bytes(document)
        wanted = _declared_digests(msgspec.json.decode(document)["answers"])
        files: list[tuple[str, Any]] = []
        for item in draft["attachments"]:
            if item["sha256"] in wanted:
                content = expect(client.get(item["href"], headers=headers), 200).content
                files.append(("attachment", (item["filename"], content, item["media_type"])))
        with signer(args) as key:
            signature = sign_detached(document, key)
        parts = [
            ("document", ("document.json", document, "application/json")),
            ("signature", ("signature.p7s", signature, "application/pkcs7-signature")),
            *files,
        ]
        body = expect(client.post("/api/v1/submissions", files=parts), 201).json()
        token = {"Authorization": f"Bearer {body['access_token']}"}
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / body["receipt_number"]
        for suffix, link in (("receipt.json", "receipt"), ("receipt.p7s", "receipt_signature"),
                             ("receipt.pdf", "receipt_pdf")):  # fmt: skip
            Path(f"{stem}.{suffix}").write_bytes(expect(client.get(body["links"][link], headers=token), 200).content)
        token_file = Path(f"{stem}.token")
        token_file.write_text(f"{body['submission_id']} {body['access_token']}\n")
        token_file.chmod(0o600)
    sys.stdout.write(body["receipt_number"] + "\n")
    sys.stderr.write(
        f"submission {body['submission_id']}: {body['status']}, signature {body['verification']['status']}; "
        f"the draft is closed; receipt files and access token in {out}\n"
    )
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``draft`` and its subcommands to the ``shinsei`` command line."""
    draft = commands.add_parser("draft", help="save an application as a draft, resume it, sign and submit it")
    sub = draft.add_subparsers(dest="draft_command", required=True)

    def common(parser: argparse.ArgumentParser, *, token: bool = True) -> argparse.ArgumentParser:
        parser.add_argument("--server", default="http://127.0.0.1:8000")
        if token:
            parser.add_argument("draft_id")
            parser.add_argument("--token", help="the draft token (default: $SHINSEI_DRAFT_TOKEN)")
        return parser

    new = common(sub.add_parser("new", help="start a draft; prints its id and token"), token=False)
    new.add_argument("--form", required=True)
    new.add_argument("--answers", help="JSON file with the answers so far")
    new.set_defaults(handler=cmd_new)

    common(sub.add_parser("show", help="the draft, its errors and what is still to do")).set_defaults(handler=cmd_show)

    change = common(sub.add_parser("set", help="change answers and upload files"))
    change.add_argument("values", nargs="*", metavar="FIELD=VALUE", help="a JSON value, or text; null removes")
    change.add_argument("--answers", help="JSON file of answers to merge in (RFC 7396)")
    change.add_argument("--attach", action="append", default=[], metavar="FIELD=PATH", help="a file for a field")
    change.set_defaults(handler=cmd_set)

    final = common(sub.add_parser("finalize", help="sign the finalised document and submit it with the files"))
    add_key_arguments(final)
    final.add_argument("--out", default=".", help="where to save the receipt and the access token")
    final.add_argument("--document", help="also save the signed document bytes here")
    final.set_defaults(handler=cmd_finalize)

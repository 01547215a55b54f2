"""``shinsei draft new|show|set|finalize``: the applicant's client for drafts, over the HTTP API.

Self-contained (it talks to a server, never to the database); the click commands in
``service/cli/filing.py`` parse the command line and call these. ``finalize`` signs the exact bytes
the server returns and submits them with the draft's files through the normal intake, saving the
receipt as ``shinsei submit`` does.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from service.applicant_client import ClientError, expect, http
from signing.client import sign_detached

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def _bearer(token: str | None) -> dict[str, str]:
    token = token or os.environ.get("SHINSEI_DRAFT_TOKEN")
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


def _answers_patch(answers_file: str | None, values: tuple[str, ...]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    if answers_file:
        loaded = msgspec.json.decode(Path(answers_file).read_bytes())
        if not isinstance(loaded, dict):
            raise ClientError(f"{answers_file}: the answers must be a JSON object")
        answers |= loaded
    for item in values:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise ClientError(f"{item!r}: write FIELD=VALUE")
        answers[field] = _value(value)
    return answers


def new(server: str, form: str, answers_file: str | None) -> int:
    """Start a draft; its id and token alone on stdout."""
    answers = msgspec.json.decode(Path(answers_file).read_bytes()) if answers_file else {}
    with http(server) as client:
        body = expect(client.post("/api/v1/drafts", json={"form_id": form, "answers": answers}), 201).json()
    sys.stdout.write(f"{body['draft_id']} {body['draft_token']}\n")  # alone on stdout, for scripts
    draft = body["draft"]
    sys.stderr.write(
        f"draft of {draft['form_id']} v{draft['form_version']}, kept until {body['expires_at']}; "
        f"{len(draft['errors'])} error(s), {len(draft['todo'])} to do\n"
    )
    return 0


def show(server: str, draft_id: str, token: str | None) -> int:
    with http(server) as client:
        _print(expect(client.get(f"/api/v1/drafts/{draft_id}", headers=_bearer(token)), 200).json())
    return 0


def change(
    server: str, draft_id: str, token: str | None, values: tuple[str, ...], answers_file: str | None,
    attach: tuple[str, ...],
) -> int:  # fmt: skip
    """Upload files and change answers in one go; prints the draft with its errors and what is to do."""
    headers = _bearer(token)
    answers = _answers_patch(answers_file, values)
    with http(server) as client:
        for item in attach:
            field, sep, path = item.partition("=")
            if not sep or not field:
                raise ClientError(f"{item!r}: write FIELD=PATH")
            content = Path(path).read_bytes()
            media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
            files = {"file": (Path(path).name, content, media_type)}
            sent = expect(client.post(f"/api/v1/drafts/{draft_id}/attachments", files=files, headers=headers), 201)
            answers[field] = {k: v for k, v in sent.json().items() if k != "href"}
        url = f"/api/v1/drafts/{draft_id}"
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


def finalize(
    server: str, draft_id: str, token: str | None, open_key: Callable[[], contextlib.AbstractContextManager[Any]],
    out_dir: str, document_file: str | None,
) -> int:  # fmt: skip
    """Finalise, sign the bytes unchanged, submit them with the draft's files; save the receipt.

    ``open_key`` opens the signer (asking for its password or PIN) once the document is in hand.
    """
    headers = _bearer(token)
    base = f"/api/v1/drafts/{draft_id}"
    with http(server) as client:
        draft = expect(client.get(base, headers=headers), 200).json()
        document = expect(client.post(f"{base}/finalize", headers=headers), 200).content
        if document_file:
            Path(document_file).write_bytes(document)
        wanted = _declared_digests(msgspec.json.decode(document)["answers"])
        files: list[tuple[str, Any]] = []
        for item in draft["attachments"]:
            if item["sha256"] in wanted:
                content = expect(client.get(item["href"], headers=headers), 200).content
                files.append(("attachment", (item["filename"], content, item["media_type"])))
        with open_key() as key:
            signature = sign_detached(document, key)
        parts = [
            ("document", ("document.json", document, "application/json")),
            ("signature", ("signature.p7s", signature, "application/pkcs7-signature")),
            *files,
        ]
        body = expect(client.post("/api/v1/submissions", files=parts), 201).json()
        access = {"Authorization": f"Bearer {body['access_token']}"}
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = out / body["receipt_number"]
        for suffix, link in (("receipt.json", "receipt"), ("receipt.p7s", "receipt_signature"),
                             ("receipt.pdf", "receipt_pdf")):  # fmt: skip
            Path(f"{stem}.{suffix}").write_bytes(expect(client.get(body["links"][link], headers=access), 200).content)
        token_file = Path(f"{stem}.token")
        token_file.write_text(f"{body['submission_id']} {body['access_token']}\n")
        token_file.chmod(0o600)
    sys.stdout.write(body["receipt_number"] + "\n")
    sys.stderr.write(
        f"submission {body['submission_id']}: {body['status']}, signature {body['verification']['status']}; "
        f"the draft is closed; receipt files and access token in {out}\n"
    )
    return 0

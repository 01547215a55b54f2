"""Commands for the applicant: sign a document, submit an application, follow its status."""

from __future__ import annotations

import hashlib
import mimetypes
import sys
from pathlib import Path
from typing import Any, Final

import click

from service.cli.common import SignerChoice, signer_options

DEFAULT_SERVER: Final = "http://127.0.0.1:8000"


@click.command()
@click.argument("document")
@click.option("-o", "--output", required=True)
@signer_options
def sign(document: str, output: str, signer: SignerChoice) -> int:
    """Sign a document's exact bytes: a detached CMS."""
    from signing.client import sign_detached

    content = Path(document).read_bytes()
    with signer.open() as key:
        signature = sign_detached(content, key)
    Path(output).write_bytes(signature)
    click.echo(f"signed {len(content)} bytes; detached CMS written to {output}", err=True)
    return 0


@click.command()
@click.option("--form", required=True)
@click.option("--version", type=int, help="form version (default: the current one)")
@click.option("--answers", required=True, help="JSON file with the answers")
@click.option("--attach", multiple=True, metavar="FIELD=PATH", help="a file for an attachment field")
@signer_options
@click.option("--server", default=DEFAULT_SERVER)
@click.option("--out", default=".", help="where to save the receipt and the access token")
@click.option("--mandate", help="filing for someone: their mandate (委任状, JSON) ...")
@click.option("--mandate-signature", help="... and its detached CMS, which the principal made (shinsei sign)")
@click.option("--statement", help="filing as a professional (提出代行): your statement (JSON), signed with your key")
def submit(
    form: str,
    version: int | None,
    answers: str,
    attach: tuple[str, ...],
    signer: SignerChoice,
    server: str,
    out: str,
    mandate: str | None,
    mandate_signature: str | None,
    statement: str | None,
) -> int:
    """Fill, sign and submit an application; save its receipt. An agent adds the principal's mandate or a statement."""
    import httpx
    import msgspec

    from service.applicant_client import problem
    from signing import canonical
    from signing.client import sign_detached

    document_answers = msgspec.json.decode(Path(answers).read_bytes())
    files: list[tuple[str, Any]] = []
    for item in attach:
        field, _, path = item.partition("=")
        content = Path(path).read_bytes()
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        document_answers[field] = {
            "filename": Path(path).name,
            "media_type": media_type,
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
        }
        files.append(("attachment", (Path(path).name, content, media_type)))
    with httpx.Client(base_url=server.rstrip("/"), timeout=60) as client:
        if version is None:
            current = client.get(f"/api/v1/forms/{form}")
            if current.status_code != 200:
                raise problem(current)
            version = current.json()["latest"]["version"]
        nonce = client.post(f"/api/v1/forms/{form}/versions/{version}/nonces")
        if nonce.status_code != 201:
            raise problem(nonce)
        document = canonical.encode(
            {"form_id": form, "form_version": version, "nonce": nonce.json()["nonce"], "answers": document_answers}
        )
        if bool(mandate) != bool(mandate_signature):
            raise click.UsageError("--mandate and --mandate-signature go together")
        on_behalf: list[tuple[str, Any]] = []
        with signer.open() as key:
            signature = sign_detached(document, key)
            if statement:
                content = Path(statement).read_bytes()
                on_behalf += [
                    ("statement", ("statement.json", content, "application/json")),
                    (
                        "statement_signature",
                        ("statement.p7s", sign_detached(content, key), "application/pkcs7-signature"),
                    ),
                ]
        if mandate and mandate_signature:
            on_behalf += [
                ("mandate", ("mandate.json", Path(mandate).read_bytes(), "application/json")),
                (
                    "mandate_signature",
                    ("mandate.p7s", Path(mandate_signature).read_bytes(), "application/pkcs7-signature"),
                ),
            ]
        parts = [
            ("document", ("document.json", document, "application/json")),
            ("signature", ("signature.p7s", signature, "application/pkcs7-signature")),
            *files,
            *on_behalf,
        ]
        response = client.post("/api/v1/submissions", files=parts)
        if response.status_code != 201:
            raise problem(response)
        body = response.json()
        token = {"Authorization": f"Bearer {body['access_token']}"}
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        stem = directory / body["receipt_number"]
        for suffix, link in (
            ("receipt.json", "receipt"),
            ("receipt.p7s", "receipt_signature"),
            ("receipt.pdf", "receipt_pdf"),
        ):
            Path(f"{stem}.{suffix}").write_bytes(client.get(body["links"][link], headers=token).content)
        token_file = Path(f"{stem}.token")
        token_file.write_text(f"{body['submission_id']} {body['access_token']}\n")
        token_file.chmod(0o600)
    click.echo(body["receipt_number"])
    verification = body["verification"]
    summary = (
        f"submission {body['submission_id']}: {body['status']}, "
        f"signature {verification['status']} ({verification['indication']})"
        + (", made with a TEST certificate" if verification.get("test") else "")
    )
    click.echo(f"{summary}; receipt files and access token in {directory}", err=True)
    return 0


@click.command()
@click.argument("submission_id")
@click.option("--token", required=True, help="the submission's access token")
@click.option("--server", default=DEFAULT_SERVER)
def status(submission_id: str, token: str, server: str) -> int:
    """A submission's status and timeline."""
    import httpx
    import msgspec

    from service.applicant_client import problem

    with httpx.Client(base_url=server.rstrip("/"), timeout=60) as client:
        response = client.get(f"/api/v1/submissions/{submission_id}", headers={"Authorization": f"Bearer {token}"})
    if response.status_code != 200:
        raise problem(response)
    sys.stdout.write(msgspec.json.format(response.text, indent=2) + "\n")
    return 0


COMMANDS: Final = [sign, submit, status]

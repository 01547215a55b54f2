"""Evidence bundles: downloaded over HTTP, checked offline by shinsei verify-bundle and by the README's commands."""

from __future__ import annotations

import asyncio
import hashlib
import io
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from asn1crypto import pem
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests import pki
from tests.api.test_queue import clerk
from tests.api.test_review import agency_root, bearer, decide, submit, view

Client = AsyncTestClient[Litestar]


def readme_commands(readme: str) -> list[str]:
    """The README's shell commands, continuation lines joined."""
    joined = readme.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip().startswith(("openssl ", "pyhanko ", "cat "))]


def run_readme(
    directory: Path, ca: Path, root: Path, tsa_root: Path | None = None, profession_root: Path | None = None
) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Every command as a user pastes it into a shell, with their own trust files in place."""
    results = []
    for command in readme_commands((directory / "README.txt").read_text()):
        line = command.replace("YOUR-CA.pem", shlex.quote(str(ca))).replace("AGENCY-ROOT.pem", shlex.quote(str(root)))
        line = line.replace("TSA-ROOT.pem", shlex.quote(str(tsa_root or root)))
        line = line.replace("PROFESSION-ROOT.pem", shlex.quote(str(profession_root or ca)))
        if line.startswith("pyhanko "):
            line = f"{shlex.quote(sys.executable)} -m {line}"
        results.append(
            (command, subprocess.run(["bash", "-c", line], cwd=directory, capture_output=True, text=True, check=False))
        )
    return results


def trust_files(directory: Path, app: Litestar) -> tuple[Path, Path]:
    """What a checker trusts, obtained on its own: the J-LIS root and the agency's root."""
    ca, root = directory / "jlis.pem", directory / "agency-root.pem"
    ca.write_bytes(pem.armor("CERTIFICATE", pki.cert("jlis-root-gen2").dump()))
    root.write_bytes(pem.armor("CERTIFICATE", agency_root(app).dump()))
    return ca, root


def verify_bundle(path: Path, *trust: Path) -> tuple[int, dict[str, Any]]:
    """``shinsei verify-bundle`` as a user runs it: the installed command, in its own process."""
    command = [str(Path(sys.executable).parent / "shinsei"), "verify-bundle", str(path), "--json"]
    result = subprocess.run(
        command + [a for t in trust for a in ("--trust", str(t))], capture_output=True, text=True, check=False
    )
    return result.returncode, msgspec.json.decode(result.stdout)


async def test_bundle_round_trip(
    client: Client,
    app: Litestar,
    admin: dict[str, str],
    conn: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    submission = await submit(client, conn)
    _, header = await clerk(conn)
    await client.post("/api/v1/queue/claim", headers=header)
    await client.post(f"{submission['links']['self']}/comments", json={"body": "内部メモ"}, headers=header)
    _, etag = await view(client, submission, header)
    assert (await decide(client, submission, header, etag, "approve")).status_code == 200

    response = await client.get(submission["links"]["bundle"], headers=header)
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    own = await client.get(submission["links"]["bundle"], headers=bearer(submission))
    assert own.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert {
        "README.txt", "manifest.json", "revision-1/document.json", "revision-1/signature-1.p7s",
        "revision-1/signature-1.chain.pem", "revision-1/signature-1.report.json", "revision-1/receipt-1.json",
        "revision-1/receipt-1.p7s", "revision-1/receipt-1.pdf", "revision-1/attachments/agreement--協定書.pdf",
        "decision-notice.json", "decision-notice.p7s", "decision-notice.pdf", "agency/receipt-chain.pem",
        "timeline.json",
    } <= names  # fmt: skip
    assert any(n.startswith("revision-1/signature-1.revocation/ocsp-") for n in names)
    assert archive.read("revision-1/document.json") == submission["document"]
    assert not any(b"\xe5\x86\x85\xe9\x83\xa8\xe3\x83\xa1\xe3\x83\xa2" in archive.read(n) for n in names)  # 内部メモ

    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(response.content)
    ca, root = trust_files(tmp_path, app)

    code, report = await asyncio.to_thread(verify_bundle, bundle, ca, root)
    assert code == 0, report
    items = {f["item"]: f["outcome"] for f in report["findings"]}
    assert items == {
        "manifest": "ok", "revision 1 receipt": "ok", "revision 1 contents": "ok", "revision 1 signature 1": "ok",
        "decision notice": "ok", "decision notice subject": "ok",
    }  # fmt: skip

    unpacked = tmp_path / "unpacked"
    archive.extractall(unpacked)
    results = await asyncio.to_thread(run_readme, unpacked, ca, root)
    assert len(results) == 6  # signature, receipt, receipt PDF, detached signature, notice CMS, notice PDF
    for command, result in results:
        assert result.returncode == 0, (command, result.stdout, result.stderr)

    # Without the agency root nothing the agency signed is accepted; without the CA the signature is not.
    code, report = await asyncio.to_thread(verify_bundle, bundle, ca)
    assert code == 1 and {f["item"] for f in report["findings"] if f["outcome"] == "failed"} == {
        "revision 1 receipt", "decision notice"
    }  # fmt: skip
    code, report = await asyncio.to_thread(verify_bundle, bundle, root)
    assert code != 0 and report["findings"][3]["outcome"] != "ok"


def rewrite(source: Path, target: Path, name: str, content: bytes, *, manifest: bool = False) -> None:
    """A copy of the bundle with one file replaced (and, if asked, its manifest entry updated to match)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = content if item.filename == name else old.read(item)
            if manifest and item.filename == "manifest.json":
                fields = msgspec.json.decode(data)
                fields["files"][name] = hashlib.sha256(content).hexdigest()
                data = msgspec.json.encode(fields)
            new.writestr(item, data)


async def test_tampering_is_found(
    client: Client,
    app: Litestar,
    admin: dict[str, str],
    conn: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    submission = await submit(client, conn)
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes((await client.get(submission["links"]["bundle"], headers=bearer(submission))).content)
    ca, root = trust_files(tmp_path, app)
    assert (await asyncio.to_thread(verify_bundle, bundle, ca, root))[0] == 0

    forged = submission["document"].replace(b'"workers":12', b'"workers":99')
    for name, manifest, failing in [
        ("revision-1/document.json", False, {"manifest", "revision 1 contents", "revision 1 signature 1"}),
        ("revision-1/document.json", True, {"revision 1 contents", "revision 1 signature 1"}),
        ("revision-1/receipt-1.json", True, {"revision 1 receipt"}),
    ]:
        target = tmp_path / "forged.zip"
        content = forged if name.endswith("document.json") else b'{"forged":true}'
        rewrite(bundle, target, name, content, manifest=manifest)
        code, report = await asyncio.to_thread(verify_bundle, target, ca, root)
        assert code == 1
        assert {f["item"] for f in report["findings"] if f["outcome"] == "failed"} == failing, (name, report)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    code, report = await asyncio.to_thread(verify_bundle, tmp_path / "junk.zip", ca, root)
    assert code == 1 and report["findings"][0]["item"] == "bundle"

"""Filing on someone's behalf: a mandate (委任状) or a professional's statement (提出代行), each wrong one refused."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
from asn1crypto import pem
from litestar import Litestar
from litestar.testing import AsyncTestClient

from service.proxy.service import JAPAN
from tests import pki
from tests.api.conftest import FORM
from tests.api.test_bundle import run_readme, trust_files, verify_bundle
from tests.api.test_submissions import document, new_nonce, parts
from tests.conftest import Tokens
from tests.pdf import page_text

Client = AsyncTestClient[Litestar]
PROBLEMS = "https://shinsei.example/problems/"
#: The principal (山田 太郎, the `applicant` card) mandates the agent (鈴木 一郎, the `second-applicant` card).
PRINCIPAL = {"name": "山田 太郎", "birth_date": "1990-02-15"}
AGENT = {"name": "鈴木 一郎", "birth_date": "2020-01-01"}


def today() -> dt.date:
    return dt.datetime.now(JAPAN).date()


def mandate(**changes: Any) -> bytes:
    doc = {
        "kind": "mandate",
        "principal": PRINCIPAL,
        "agent": AGENT,
        "procedures": ["mhlw-36-agreement"],
        "valid_from": (today() - dt.timedelta(days=30)).isoformat(),
        "valid_until": (today() + dt.timedelta(days=30)).isoformat(),
        "date": (today() - dt.timedelta(days=1)).isoformat(),
    } | changes
    return msgspec.json.encode(doc)


def sign(label: str, data: bytes) -> Any:
    """OpenSSL's CMS states a signingTime (the claim a mandate's and an application's are compared by)."""
    return asyncio.to_thread(pki.sign_openssl, label, data)


async def file(
    client: Client,
    mandate_bytes: bytes | None,
    *,
    principal: str = "applicant",
    agent: str = "second-applicant",
    form: str = "t-overtime",
    mandate_first: bool = True,
    with_signature: bool = True,
) -> Any:
    doc = document(await new_nonce(client, form), form=form)
    if mandate_first and mandate_bytes is not None:
        mandate_signature = await sign(principal, mandate_bytes)
        application = await sign(agent, doc)
    else:
        application = await sign(agent, doc)
        await asyncio.sleep(1.1)  # signingTime has whole seconds
        mandate_signature = await sign(principal, mandate_bytes) if mandate_bytes is not None else None
    files = parts(doc, [application])
    if mandate_bytes is not None:
        files.append(("mandate", ("mandate.json", mandate_bytes, "application/json")))
    if with_signature and mandate_signature is not None:
        files.append(("mandate_signature", ("mandate.p7s", mandate_signature, "application/pkcs7-signature")))
    return await client.post("/api/v1/submissions", files=files)


async def test_an_agent_files_with_the_principals_mandate(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    response = await file(client, mandate())
    assert response.status_code == 201, response.text
    body = response.json()
    assert "identity_mismatch" not in body["flags"]  # the answers name the principal, who signed the mandate
    assert body["verification"]["signers"][0]["name"] == "鈴木 一郎"
    signers = await conn.fetchval("SELECT signer_identity FROM submission")
    assert signers == [
        {"class": "jpki", "name": "鈴木一郎", "birth_date": "2020-01-01"},
        {"class": "jpki", "name": "山田太郎", "birth_date": "1990-02-15"},
    ]

    token = {"Authorization": f"Bearer {body['access_token']}"}
    receipt = msgspec.json.decode((await client.get(body["links"]["receipt"], headers=token)).content)
    assert (receipt["filed_by"], receipt["on_behalf_of"]) == ("鈴木 一郎", "山田 太郎")  # the receipt names both
    assert "filed_by_profession" not in receipt  # a card holder files under a mandate, not as a profession
    assert {"申請者 Applicant: 山田 太郎", "提出者 Filed by: 鈴木 一郎"} <= await pdf_lines(client, body, token)
    clerk = await tokens.header("clerk", "MHLW")
    view = (await client.get(body["links"]["self"], headers=clerk)).json()
    proxy = view["proxy"]
    assert proxy["summary"] == "filed by 鈴木 一郎 on behalf of 山田 太郎 (mandate, 委任状)"
    assert (proxy["agent"]["name"], proxy["principal"]["name"]) == ("鈴木一郎", "山田太郎")
    assert proxy["kind"] == "mandate"
    assert proxy["document"]["procedures"] == ["mhlw-36-agreement"]
    assert proxy["report"]["indication"] == "TOTAL_PASSED"

    by_agent = await client.get("/api/v1/queue", params={"agent": "鈴木　一郎"}, headers=clerk)  # full-width space
    assert [i["id"] for i in by_agent.json()["items"]] == [body["submission_id"]]
    other = await client.get("/api/v1/queue", params={"agent": "山田 太郎"}, headers=clerk)
    assert other.json()["items"] == []
    own = await file(client, None, agent="applicant")
    assert own.status_code == 201, own.text
    own_view = (await client.get(own.json()["links"]["self"], headers=clerk)).json()
    assert own_view["proxy"] is None
    own_token = {"Authorization": f"Bearer {own.json()['access_token']}"}
    own_receipt = msgspec.json.decode((await client.get(own.json()["links"]["receipt"], headers=own_token)).content)
    assert "filed_by" not in own_receipt and "on_behalf_of" not in own_receipt


async def pdf_lines(client: Client, body: dict[str, Any], token: dict[str, str]) -> set[str]:
    """The lines of the receipt's PDF, as poppler's pdftotext extracts them."""
    response = await client.get(body["links"]["receipt_pdf"], headers=token)
    assert response.status_code == 200, response.text
    return {line.strip() for line in page_text(response.content).splitlines()}


async def refused(client: Client, conn: asyncpg.Connection, response: Any) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEMS + "mandate-rejected"
    assert await conn.fetchval("SELECT count(*) FROM submission") == 0
    return [(e["pointer"], e["code"]) for e in problem["errors"]]


async def test_every_wrong_mandate_is_refused_precisely(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    another_agent = mandate(agent={"name": "佐藤 花子", "birth_date": "1975-11-03"})
    assert await refused(client, conn, await file(client, another_agent)) == [("/mandate/agent", "agent_mismatch")]

    expired = mandate(valid_until=(today() - dt.timedelta(days=1)).isoformat())
    assert await refused(client, conn, await file(client, expired)) == [("/mandate/valid_until", "expired")]

    elsewhere = mandate(procedures=["mlit-kensetsugyo-kyoka"])
    assert await refused(client, conn, await file(client, elsewhere)) == [
        ("/mandate/procedures", "procedure_not_covered")
    ]

    late = await file(client, mandate(), mandate_first=False)
    assert await refused(client, conn, late) == [("/mandate_signature", "signed_after_application")]

    untrusted = await file(client, mandate(), principal="forged-applicant")
    assert await refused(client, conn, untrusted) == [("/mandate_signature", "signature")]
    assert untrusted.json()["report"]["sub_indication"] == "NO_CERTIFICATE_CHAIN_FOUND"

    impostor = mandate(principal={"name": "田中 次郎", "birth_date": "1990-02-15"})
    assert await refused(client, conn, await file(client, impostor)) == [("/mandate/principal", "principal_mismatch")]

    not_taken = await file(client, mandate(procedures=["moj-inkan-todoke"]), form="t-seal")
    assert await refused(client, conn, not_taken) == [("/mandate", "not_allowed")]

    unsigned = await file(client, mandate(), with_signature=False)
    assert await refused(client, conn, unsigned) == [("/mandate_signature", "missing_part")]

    malformed = await file(client, msgspec.json.encode({"kind": "mandate", "agent": {"name": ""}}))
    assert set(await refused(client, conn, malformed)) >= {
        ("/mandate/principal", "required"),
        ("/mandate/agent/name", "min_length"),
        ("/mandate/procedures", "required"),
    }

    everything = mandate(agent={"name": "佐藤 花子", "birth_date": "1975-11-03"}, procedures=["moj-inkan-todoke"])
    problem = (await file(client, everything)).json()
    assert problem["detail"] == (
        "The mandate cannot be accepted: it names another agent than the one who signed the application (and 1 more)."
    )


def statement(**changes: Any) -> bytes:
    doc = {
        "kind": "filing_statement",
        "profession": "sharoushi",
        "registration_number": "13-120345",
        "agent": {"name": "Takahashi Ichiro"},
        "principal": {"name": "戸田工業株式会社"},
        "procedures": ["mhlw-36-agreement"],
        "date": today().isoformat(),
    } | changes
    return msgspec.json.encode(doc)


async def trust_sharoushi(client: Client, admin: dict[str, str]) -> None:
    """The association's CA as a trust class of its own, and its current CRL, through the API."""
    anchor = {"class": "sharoushi", "certificate": pem.armor("CERTIFICATE", pki.cert("sharoushi-root").dump()).decode()}
    assert (await client.post("/api/v1/trust/anchors", json=anchor, headers=admin)).status_code == 201
    crl = pem.armor("X509 CRL", pki.crl("sharoushi", dt.datetime.now(dt.UTC)).dump()).decode()
    assert (await client.post("/api/v1/trust/crls", json={"crl": crl}, headers=admin)).status_code == 201


async def file_as_professional(
    client: Client, statement_bytes: bytes | None, *, agent: str = "sharoushi-agent", signer: str = "sharoushi-agent"
) -> Any:
    doc = document(await new_nonce(client))
    files = parts(doc, [await sign(agent, doc)])
    if statement_bytes is not None:
        files.append(("statement", ("statement.json", statement_bytes, "application/json")))
        signature = await sign(signer, statement_bytes)
        files.append(("statement_signature", ("statement.p7s", signature, "application/pkcs7-signature")))
    return await client.post("/api/v1/submissions", files=files)


async def test_a_sharoushi_files_with_a_statement(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    await trust_sharoushi(client, admin)
    response = await file_as_professional(client, statement())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["verification"]["signers"][0]["certificate_class"] == "sharoushi"
    token = {"Authorization": f"Bearer {body['access_token']}"}
    receipt = msgspec.json.decode((await client.get(body["links"]["receipt"], headers=token)).content)
    assert (receipt["filed_by"], receipt["on_behalf_of"]) == ("Takahashi Ichiro", "戸田工業株式会社")
    assert receipt["filed_by_profession"] == "sharoushi"
    assert {
        "申請者 Applicant: 戸田工業株式会社",
        "提出者 Filed by: Takahashi Ichiro（社会保険労務士）",
    } <= await pdf_lines(client, body, token)

    clerk = await tokens.header("clerk", "MHLW")
    proxy = (await client.get(body["links"]["self"], headers=clerk)).json()["proxy"]
    assert proxy["kind"] == "profession"
    assert proxy["summary"] == "filed by Takahashi Ichiro (社会保険労務士) on behalf of 戸田工業株式会社 (提出代行)"
    assert (proxy["agent"]["profession"], proxy["agent"]["registration_number"]) == ("sharoushi", "13-120345")
    assert proxy["principal"]["stated_by_agent"] is True
    by_agent = await client.get("/api/v1/queue", params={"agent": "Takahashi Ichiro"}, headers=clerk)
    assert [i["id"] for i in by_agent.json()["items"]] == [body["submission_id"]]


async def test_every_wrong_statement_is_refused_precisely(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection
) -> None:
    await trust_sharoushi(client, admin)
    # Without a statement, a professional's certificate does not sign this form.
    alone = await file_as_professional(client, None)
    assert (alone.status_code, alone.json()["type"]) == (422, PROBLEMS + "signature-rejected")

    other_profession = statement(profession="gyouseishoshi")
    assert await refused(client, conn, await file_as_professional(client, other_profession)) == [
        ("/statement/profession", "not_allowed")
    ]
    elsewhere = statement(procedures=["mlit-kensetsugyo-kyoka"])
    assert await refused(client, conn, await file_as_professional(client, elsewhere)) == [
        ("/statement/procedures", "procedure_not_covered")
    ]
    by_a_card = await file_as_professional(client, statement(), signer="applicant")
    assert await refused(client, conn, by_a_card) == [("/statement_signature", "signature")]
    assert by_a_card.json()["report"]["sub_indication"] == "CHAIN_CONSTRAINTS_FAILURE"
    someone_else_filed = await file_as_professional(client, statement(), agent="applicant")
    assert await refused(client, conn, someone_else_filed) == [("/statement_signature", "agent_mismatch")]
    misnamed = statement(agent={"name": "Watanabe Jiro"})
    assert await refused(client, conn, await file_as_professional(client, misnamed)) == [
        ("/statement/agent", "agent_mismatch")
    ]


KENSETSU = FORM | {"id": "t-kensetsu", "procedure": "mlit-kensetsugyo-kyoka"}
"""A form of 建設業許可, whose catalogue entry takes mandates and lists 行政書士."""
GYOUSEISHOSHI = {"name": "Watanabe Jiro"}
"""The 行政書士 as their association's certificate names them (no birth date: it is not a card)."""


async def trust_gyouseishoshi(client: Client, admin: dict[str, str]) -> None:
    """The 行政書士 association's CA and its CRL, and a 建設業許可 form, through the API."""
    anchor = {
        "class": "gyouseishoshi",
        "certificate": pem.armor("CERTIFICATE", pki.cert("gyouseishoshi-root").dump()).decode(),
    }
    assert (await client.post("/api/v1/trust/anchors", json=anchor, headers=admin)).status_code == 201
    crl = pem.armor("X509 CRL", pki.crl("gyouseishoshi", dt.datetime.now(dt.UTC)).dump()).decode()
    assert (await client.post("/api/v1/trust/crls", json={"crl": crl}, headers=admin)).status_code == 201
    assert (await client.post("/api/v1/forms", json=KENSETSU, headers=admin)).status_code == 201
    assert (await client.post("/api/v1/forms/t-kensetsu/draft/publish", headers=admin)).status_code == 200


async def test_a_gyouseishoshi_files_with_the_principals_mandate(
    client: Client, admin: dict[str, str], conn: asyncpg.Connection, tokens: Tokens
) -> None:
    """行政書士 Watanabe signs a 建設業許可 application with their association's certificate and 山田's mandate."""
    await trust_gyouseishoshi(client, admin)
    kensetsu = mandate(agent=GYOUSEISHOSHI, procedures=["mlit-kensetsugyo-kyoka"])
    response = await file(client, kensetsu, agent="gyouseishoshi-agent", form="t-kensetsu")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["verification"]["signers"][0]["certificate_class"] == "gyouseishoshi"
    assert "identity_mismatch" not in body["flags"]  # the answers name the principal, who signed the mandate

    token = {"Authorization": f"Bearer {body['access_token']}"}
    receipt = msgspec.json.decode((await client.get(body["links"]["receipt"], headers=token)).content)
    assert (receipt["filed_by"], receipt["filed_by_profession"], receipt["on_behalf_of"]) == (
        "Watanabe Jiro",
        "gyouseishoshi",
        "山田 太郎",
    )
    assert {"申請者 Applicant: 山田 太郎", "提出者 Filed by: Watanabe Jiro（行政書士）"} <= await pdf_lines(
        client, body, token
    )
    clerk = await tokens.header("clerk", "MLIT")
    proxy = (await client.get(body["links"]["self"], headers=clerk)).json()["proxy"]
    assert proxy["summary"] == "filed by Watanabe Jiro (行政書士) on behalf of 山田 太郎 (mandate, 委任状)"
    assert (proxy["kind"], proxy["agent"]["profession"]) == ("mandate", "gyouseishoshi")
    by_agent = await client.get("/api/v1/queue", params={"agent": "Watanabe Jiro"}, headers=clerk)
    assert [i["id"] for i in by_agent.json()["items"]] == [body["submission_id"]]

    # The 36協定届 lists 社労士 only: a 行政書士's certificate does not sign it, mandate or not.
    elsewhere = await file(client, mandate(agent=GYOUSEISHOSHI), agent="gyouseishoshi-agent")
    assert (elsewhere.status_code, elsewhere.json()["type"]) == (422, PROBLEMS + "signature-rejected")
    # The mandate names the professional as their certificate does, or it names someone else.
    misnamed = mandate(agent={"name": "Watanabe Saburo"}, procedures=["mlit-kensetsugyo-kyoka"])
    response = await file(client, misnamed, agent="gyouseishoshi-agent", form="t-kensetsu")
    assert response.status_code == 422 and [(e["pointer"], e["code"]) for e in response.json()["errors"]] == [
        ("/mandate/agent", "agent_mismatch")
    ]


async def test_the_evidence_bundle_carries_the_mandate_and_the_statement(
    client: Client, app: Litestar, admin: dict[str, str], tmp_path: Path
) -> None:
    """A filing's bundle has the mandate (or statement) and its signature; the README's OpenSSL commands check them."""
    await trust_sharoushi(client, admin)
    ca, root = trust_files(tmp_path, app)
    profession_root = tmp_path / "sharoushi-root.pem"
    profession_root.write_bytes(pem.armor("CERTIFICATE", pki.cert("sharoushi-root").dump()))
    for kind, response, stem in (
        ("mandate", await file(client, mandate()), "proxy/mandate"),
        ("statement", await file_as_professional(client, statement()), "proxy/statement"),
    ):
        assert response.status_code == 201, response.text
        body = response.json()
        download = await client.get(
            body["links"]["bundle"], headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert download.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(download.content))
        assert {f"{stem}.json", f"{stem}.p7s", f"{stem}.chain.pem", f"{stem}.report.json"} <= set(archive.namelist())
        manifest = msgspec.json.decode(archive.read("manifest.json"))
        assert (manifest["proxy"]["kind"], manifest["proxy"]["document"]) == (
            "mandate" if kind == "mandate" else "profession",
            f"{stem}.json",
        )
        assert msgspec.json.decode(archive.read(f"{stem}.json"))["kind"] == (
            "mandate" if kind == "mandate" else "filing_statement"
        )
        readme = archive.read("README.txt").decode()
        assert f"-in {stem}.p7s -content {stem}.json" in readme
        assert ("委任状" if kind == "mandate" else "提出代行") in readme

        directory = tmp_path / kind
        archive.extractall(directory)
        # The application's signer's root: a card's (J-LIS) under a mandate, the association's for a statement.
        signer_ca = ca if kind == "mandate" else profession_root
        results = await asyncio.to_thread(run_readme, directory, signer_ca, root, None, profession_root)
        proxy_commands = [c for c, _ in results if stem in c]  # a CRL used is appended to the CA file first
        assert sum(f"-in {stem}.p7s -content {stem}.json" in c for c in proxy_commands) == 1
        for command, result in results:
            assert result.returncode == 0, (command, result.stdout, result.stderr)
        # The same commands with the wrong root fail: the check is real.
        wrong = " && ".join(proxy_commands).replace("PROFESSION-ROOT.pem", str(root)).replace("YOUR-CA.pem", str(root))
        assert (await asyncio.to_thread(run_shell, wrong, directory)).returncode != 0

        bundle = tmp_path / f"{kind}.zip"
        bundle.write_bytes(download.content)
        code, report = await asyncio.to_thread(verify_bundle, bundle, ca, root, profession_root)
        assert code == 0, report
        item = "mandate signature" if kind == "mandate" else "statement signature"
        assert {f["item"]: f["outcome"] for f in report["findings"]}[item] == "ok"
        # Without the root of whoever signed it, the mandate (statement) is not trusted.
        without = (ca, root) if kind == "statement" else (profession_root, root)
        code, report = await asyncio.to_thread(verify_bundle, bundle, *without)
        assert {f["item"]: f["outcome"] for f in report["findings"]}[item] != "ok"


def run_shell(line: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", line], cwd=directory, capture_output=True, text=True, check=False)

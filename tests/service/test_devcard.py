"""``shinsei dev card`` as a newcomer runs it, and the README's walk-through with a live development server."""

from __future__ import annotations

import asyncio
import datetime as dt
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import msgspec
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

import forms
from service.cli.files import read_form
from service.problems import Conflict
from service.settings import SAMPLE_FORMS
from service.trust import service as trust_service
from signing import devca, jpki
from tests.service.test_cli import SHINSEI, env_for, run
from tests.service.test_intake_live import Server

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "nta-kaigyo-todoke.answers.json"
HOLDER_LINE = "holder:     山田 太郎 (male), born 1990-02-15 (平成), 埼玉県戸田市上戸田一丁目18番1号"


def development(db: str, state: Path) -> dict[str, str]:
    return env_for(db, SHINSEI_ENV="development", SHINSEI_DATA_DIR=str(state))


async def trust_rows(db: str) -> tuple[list[tuple[str, bool, str]], list[tuple[dt.datetime, dt.datetime]]]:
    conn = await asyncpg.connect(db)
    try:
        anchors = await conn.fetch("SELECT certificate_class, test, subject FROM trust_anchor ORDER BY created_at")
        crls = await conn.fetch("SELECT this_update, next_update FROM trust_crl ORDER BY this_update")
        return [tuple(r) for r in anchors], [tuple(r) for r in crls]
    finally:
        await conn.close()


def card_certificate(directory: Path) -> asn1_x509.Certificate:
    password = (directory / "card.p12.password").read_text().rstrip("\n")
    _, certificate, chain = pkcs12.load_key_and_certificates((directory / "card.p12").read_bytes(), password.encode())
    assert certificate is not None and len(chain) == 1  # the card, with its CA as the chain
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def test_dev_card_makes_a_card_and_registers_its_ca_once(db: str, tmp_path: Path) -> None:
    state, me = tmp_path / "state", tmp_path / "me"
    first = run(["dev", "card", "--out", str(me)], development(db, state))
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[:3] == [f"test card:  {me / 'card.p12'}", f"password:   {me / 'card.p12.password'}", HOLDER_LINE]
    ca_pem = state / "dev" / devca.CA_CERT_FILE
    assert lines[3].startswith(f"issuer:     {ca_pem} (made now; registered now as a test jpki anchor; CRL current")
    assert stat.S_IMODE((me / "card.p12.password").stat().st_mode) == 0o600
    card = card_certificate(me)
    assert jpki.policies(card) == {jpki.TEST_SIGNING_POLICY}
    holder = jpki.holder(card)
    assert holder is not None and (holder.name, holder.birth_date) == ("山田 太郎", dt.date(1990, 2, 15))
    # The defaults are the example answers' applicant: a form binding them to the signer finds no mismatch.
    answers = msgspec.json.decode(EXAMPLE.read_bytes())
    assert (answers["full_name"], answers["birth_date"], answers["address"]) == (
        holder.name,
        holder.birth_date.isoformat(),
        holder.address,
    )

    # Offline too, with the files dev card leaves: the CA, its current CRL, the password file.
    (tmp_path / "doc.json").write_bytes(EXAMPLE.read_bytes())
    signed = run(
        ["sign", str(tmp_path / "doc.json"), "-o", str(tmp_path / "doc.p7s"), "--p12", str(me / "card.p12"),
         "--password-file", str(me / "card.p12.password")],
        env_for(None),
    )  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    verify = ["verify", str(tmp_path / "doc.json"), str(tmp_path / "doc.p7s"), "--trust", str(ca_pem),
              "--crl", str(state / "dev" / devca.CA_CRL_FILE), "--class", "jpki"]  # fmt: skip
    verified = run([*verify, "--test-anchor"], env_for(None))
    assert verified.returncode == 0, verified.stdout
    assert msgspec.json.decode(verified.stdout)["indication"] == "TOTAL_PASSED"
    assert run(verify, env_for(None)).returncode == 3  # INDETERMINATE: not as a production anchor

    anchors, crls = asyncio.run(trust_rows(db))
    ca = devca.load_ca(state / "dev")
    assert ca is not None
    subject = asn1_x509.Certificate.load(ca.certificate.public_bytes(Encoding.DER)).subject.human_friendly
    assert anchors == [("jpki", True, subject)]
    assert len(crls) == 1 and crls[0][1] - crls[0][0] == devca.CRL_LIFETIME

    other = tmp_path / "other"
    second = run(
        ["dev", "card", "--out", str(other), "--name", "佐藤 花子", "--birth-date", "1975-11-03",
         "--address", "埼玉県戸田市本町一丁目1番1号", "--gender", "female"],
        development(db, state),
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    holder_line = "holder:     佐藤 花子 (female), born 1975-11-03 (昭和), 埼玉県戸田市本町一丁目1番1号"
    assert second.stdout.splitlines()[2] == holder_line
    assert "(kept; already a test jpki anchor;" in second.stdout.splitlines()[3]
    assert card_certificate(other).issuer == card.issuer  # the same CA
    anchors_after, crls_after = asyncio.run(trust_rows(db))
    assert anchors_after == anchors  # not registered twice
    assert len(crls_after) == 2  # a fresh CRL on every run


def test_the_example_answers_fit_the_sample_form() -> None:
    registry = forms.default_components()
    form = forms.CompiledForm(read_form(SAMPLE_FORMS / "nta-kaigyo-todoke.yaml", registry), 1, registry)
    document = {"form_id": "nta-kaigyo-todoke", "form_version": 1, "nonce": "n" * 32}
    assert form.validate(msgspec.json.encode(document | {"answers": msgspec.json.decode(EXAMPLE.read_bytes())})) == []


def test_dev_card_refuses_outside_development(db: str, tmp_path: Path) -> None:
    state, me = tmp_path / "state", tmp_path / "me"
    result = run(["dev", "card", "--out", str(me)], env_for(db, SHINSEI_DATA_DIR=str(state)))  # production: the default
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "shinsei: dev card makes test cards, which only a development server accepts: "
        "set SHINSEI_ENV=development (make run does)\n"
    )
    assert not me.exists() and not (state / "dev").exists()
    assert asyncio.run(trust_rows(db)) == ([], [])


async def test_registration_is_idempotent_and_names_a_production_anchor(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    ca, _ = devca.load_or_create_ca(tmp_path, now)
    certificate = asn1_x509.Certificate.load(ca.certificate.public_bytes(Encoding.DER))

    def crl() -> asn1_crl.CertificateList:
        return asn1_crl.CertificateList.load(devca.issue_crl(ca, dt.datetime.now(dt.UTC)).public_bytes(Encoding.DER))

    # A database that never saw dev card gets no CRL from a development server's start.
    assert await trust_service.refresh_development_crl(conn, certificate, crl(), now) is None
    added, stored = await trust_service.register_development_ca(conn, certificate, crl(), now)
    assert added and stored is not None
    added, _ = await trust_service.register_development_ca(conn, certificate, crl(), now)
    assert not added
    await conn.execute("UPDATE trust_anchor SET test = false")  # as if an admin had uploaded it as production
    with pytest.raises(Conflict, match="not a test one"):
        await trust_service.register_development_ca(conn, certificate, crl(), now)
    assert await trust_service.refresh_development_crl(conn, certificate, crl(), now) is None


@pytest.fixture
def dev_server(db: str, tmp_path: Path) -> Iterator[Server]:
    """``make run``: development mode, samples loaded, with the state directory dev card also uses."""
    live = Server(db, tmp_path / "state", SHINSEI_ENV="development")
    live.start()
    yield live
    live.stop()


def test_the_development_server_renews_the_dev_crl(dev_server: Server, db: str, tmp_path: Path) -> None:
    assert run(["dev", "card", "--out", str(tmp_path / "me")], development(db, dev_server.data_dir)).returncode == 0
    dev_server.stop()
    dev_server.start()
    _, crls = asyncio.run(trust_rows(db))
    assert len(crls) == 2  # dev card's, then one at the server's start


def test_the_readme_walk_through(dev_server: Server, db: str, tmp_path: Path) -> None:
    env = development(db, dev_server.data_dir)
    me = tmp_path / "me"
    assert run(["dev", "card", "--out", str(me)], env).returncode == 0
    submitted = subprocess.run(
        [*SHINSEI, "submit", "--form", "nta-kaigyo-todoke", "--answers", str(EXAMPLE), "--p12", str(me / "card.p12"),
         "--password-file", str(me / "card.p12.password"), "--server", dev_server.base, "--out", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    number = submitted.stdout.strip()
    assert number.startswith("NTA-")
    assert "signature passed (TOTAL_PASSED), made with a TEST certificate" in submitted.stderr
    submission_id, token = (tmp_path / "r" / f"{number}.token").read_text().split()
    status = run(["status", submission_id, "--token", token, "--server", dev_server.base], env_for(None))
    revision = msgspec.json.decode(status.stdout)["revisions"][0]
    assert revision["verification"]["indication"] == "TOTAL_PASSED"
    assert revision["verification"]["test"] is True
    assert revision["flags"] == []  # the card's holder is the answers' applicant

    clerk = run(["token", "create", "--role", "clerk", "--agency", "NTA"], env).stdout.strip()
    queue = httpx.get(f"{dev_server.base}/api/v1/queue", headers={"Authorization": f"Bearer {clerk}"}).json()
    assert [(i["id"], i["signer"]) for i in queue["items"]] == [(submission_id, "山田 太郎")]

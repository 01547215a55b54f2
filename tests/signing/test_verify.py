"""Every verdict row, with pyHanko-made and OpenSSL-made signatures, against a from-scratch pyHanko check."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import logging
import os
import pathlib
import subprocess
import tempfile
from collections.abc import Callable
from functools import cache
from typing import Any

import msgspec
import pytest
from asn1crypto import cms
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.report import VerificationReport, exit_status
from signing.trust import CRLRejected, OCSPRejected, TrustStore, key_id
from signing.verify import Bounds, Policy, Verifier, carried_certificates
from tests import pki
from tests.signing.reference import reference_verify

DOCUMENT = msgspec.json.encode({"form_id": "mhlw-36-agreement", "form_version": 1, "nonce": "n" * 22, "answers": {}})
JPKI = Policy(classes=frozenset({"jpki"}))
ANY = Policy(classes=frozenset({"jpki", "corporate", "accredited"}))
AT_NOW = Bounds(validation_time=pki.NOW)
#: Re-verified the next morning, with a CRL issued after the nonce; receipt at NOW.
NEXT_DAY = dt.datetime(2026, 11, 28, 6, 0, tzinfo=pki.UTC)
SIGNERS: dict[str, Callable[..., bytes]] = {"pyhanko": pki.sign_pyhanko, "openssl": pki.sign_openssl}


@cache
def signature(maker: str, label: str, digest: str = "sha256") -> bytes:
    return SIGNERS[maker](label, DOCUMENT, digest=digest)


@cache
def store(
    crl_time: dt.datetime | None = pki.CRL_DAY, links: bool = True, gen1_anchor: bool = True, ocsp: tuple[str, ...] = ()
) -> TrustStore:
    built = pki.store(crl_time, links=links)
    anchors = (
        built.anchors if gen1_anchor else [a for a in built.anchors if a.certificate != pki.cert("jlis-root-gen1")]
    )
    responses = [pki.ocsp_response(label) for label in ocsp]
    return TrustStore(anchors, built.certificates, built.crl_lists.values(), responses)


CASES: list[tuple[str, str, Policy, Bounds, dict[str, Any], tuple[str, str | None]]] = [
    ("valid", "applicant", JPKI, AT_NOW, {}, ("TOTAL_PASSED", None)),
    ("second generation anchor", "applicant-gen1", JPKI, AT_NOW, {}, ("TOTAL_PASSED", None)),
    (
        "rollover: gen1 signer, only gen2 anchored",
        "applicant-gen1",
        JPKI,
        AT_NOW,
        {"gen1_anchor": False},
        ("TOTAL_PASSED", None),
    ),
    (
        "rollover without the link certificate",
        "applicant-gen1",
        JPKI,
        AT_NOW,
        {"gen1_anchor": False, "links": False},
        ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"),
    ),
    (
        # EN 319 102-1 §5.2.5 without a freshness constraint: current at the validation time is fresh.
        "crl older than the nonce, still current",
        "applicant",
        JPKI,
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {},
        ("TOTAL_PASSED", None),
    ),
    (
        "re-verified with a fresh crl",
        "applicant",
        JPKI,
        Bounds(validation_time=NEXT_DAY, signed_after=pki.NONCE_ISSUED, signed_before=pki.NOW),
        {"crl_time": dt.datetime(2026, 11, 28, tzinfo=pki.UTC)},
        ("TOTAL_PASSED", None),
    ),
    (
        "stale crl",
        "applicant",
        JPKI,
        AT_NOW,
        {"crl_time": dt.datetime(2026, 11, 20, tzinfo=pki.UTC)},
        ("INDETERMINATE", "TRY_LATER"),
    ),
    ("no crl", "applicant", JPKI, AT_NOW, {"crl_time": None}, ("INDETERMINATE", "TRY_LATER")),
    ("revoked, no lower bound", "revoked-applicant", JPKI, AT_NOW, {}, ("INDETERMINATE", "REVOKED_NO_POE")),
    (
        "revoked before the nonce",
        "revoked-applicant",
        JPKI,
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {},
        ("TOTAL_FAILED", "REVOKED"),
    ),
    (
        "revoked after the receipt",
        "revoked-applicant",
        JPKI,
        Bounds(
            validation_time=pki.NOW,
            signed_after=dt.datetime(2026, 5, 1, tzinfo=pki.UTC),
            signed_before=dt.datetime(2026, 5, 2, tzinfo=pki.UTC),
        ),
        {"crl_time": dt.datetime(2026, 11, 27, tzinfo=pki.UTC)},
        ("TOTAL_PASSED", None),
    ),
    ("expired, no lower bound", "expired-applicant", JPKI, AT_NOW, {}, ("INDETERMINATE", "OUT_OF_BOUNDS_NO_POE")),
    (
        "expired before the nonce",
        "expired-applicant",
        JPKI,
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {},
        ("TOTAL_FAILED", "EXPIRED"),
    ),
    ("not yet valid", "future-applicant", JPKI, AT_NOW, {}, ("TOTAL_FAILED", "NOT_YET_VALID")),
    ("no nonRepudiation", "wrong-usage-applicant", JPKI, AT_NOW, {}, ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE")),
    ("authentication certificate", "auth-applicant", JPKI, AT_NOW, {}, ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE")),
    (
        "test card, production policy",
        "test-card-applicant",
        JPKI,
        AT_NOW,
        {},
        ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"),
    ),
    (
        "test card, test anchor accepted",
        "test-card-applicant",
        Policy(classes=frozenset({"jpki"}), accept_test=True),
        AT_NOW,
        {},
        ("TOTAL_PASSED", None),
    ),
    (
        "forged CA with the same DN",
        "forged-applicant",
        JPKI,
        AT_NOW,
        {},
        ("INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"),
    ),
    (
        "corporate under a jpki-only policy",
        "corporate-rep",
        JPKI,
        AT_NOW,
        {},
        ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE"),
    ),
    ("corporate", "corporate-rep", Policy(classes=frozenset({"corporate"})), AT_NOW, {}, ("TOTAL_PASSED", None)),
    ("accredited, ECDSA", "accredited-signer", ANY, AT_NOW, {}, ("TOTAL_PASSED", None)),
    ("RSA-1024", "weak-applicant", JPKI, AT_NOW, {}, ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE")),
    (
        "ocsp good, answered after the nonce",
        "applicant",
        JPKI,
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {"crl_time": None, "ocsp": ("applicant",)},
        ("TOTAL_PASSED", None),
    ),
    (
        "ocsp fresher than the crl",
        "applicant",
        JPKI,
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {"ocsp": ("applicant",)},
        ("TOTAL_PASSED", None),
    ),
    (
        "ocsp revoked before the nonce",
        "revoked-applicant",
        JPKI,
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {"crl_time": None, "ocsp": ("revoked-applicant",)},
        ("TOTAL_FAILED", "REVOKED"),
    ),
    (
        "ocsp answer past its nextUpdate",
        "applicant",
        JPKI,
        Bounds(validation_time=pki.NOW + dt.timedelta(hours=1)),
        {"crl_time": None, "ocsp": ("applicant",)},
        ("INDETERMINATE", "TRY_LATER"),
    ),
]


#: Where pyHanko is wrong and we are right anyway, with what pyHanko says instead.
#: certvalidator looks a CRL's issuer up by name: with CA generations sharing a DN it tries the new
#: root's key on the old generation's CRL, fails, and reports no usable revocation data.
PYHANKO_DIFFERS = {"rollover: gen1 signer, only gen2 anchored": ("INDETERMINATE", "TRY_LATER")}


def both_paths(
    trust: TrustStore, document: bytes, sig: bytes, policy: Policy, bounds: Bounds, case: str = ""
) -> VerificationReport:
    """The cached verifier's report, after checking the from-scratch pyHanko path agrees."""
    fast = Verifier(trust).verify(document, sig, policy, bounds)
    reference = asyncio.run(reference_verify(trust, document, sig, policy, bounds))
    expected = PYHANKO_DIFFERS.get(case, (fast.indication, fast.sub_indication))
    assert (reference.indication, reference.sub_indication) == expected, reference.checks
    return fast


@pytest.mark.parametrize("maker", SIGNERS)
@pytest.mark.parametrize(("case", "label", "policy", "bounds", "trust", "expected"), CASES, ids=[c[0] for c in CASES])
def test_verdicts(
    maker: str,
    case: str,
    label: str,
    policy: Policy,
    bounds: Bounds,
    trust: dict[str, Any],
    expected: tuple[str, str | None],
) -> None:
    report = both_paths(store(**trust), DOCUMENT, signature(maker, label), policy, bounds, case)
    assert (report.indication, report.sub_indication) == expected, report.checks


#: (case, bounds, trust) → whether the verdict is confirmed by revocation data issued after the signature.
CONFIRMATION = [
    ("current crl, issued before the nonce", Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED), {}, False),
    (
        "crl issued after the nonce",
        Bounds(validation_time=NEXT_DAY, signed_after=pki.NONCE_ISSUED, signed_before=pki.NOW),
        {"crl_time": dt.datetime(2026, 11, 28, tzinfo=pki.UTC)},
        True,
    ),
    (
        "crl issued after the nonce, but within the grace period",
        Bounds(
            validation_time=NEXT_DAY,
            signed_after=pki.NONCE_ISSUED,
            signed_before=pki.NOW,
            confirmation_grace=dt.timedelta(days=1),
        ),
        {"crl_time": dt.datetime(2026, 11, 28, tzinfo=pki.UTC)},
        False,
    ),
    (
        "ocsp answered after the nonce",
        Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED),
        {"crl_time": None, "ocsp": ("applicant",)},
        True,
    ),
    ("no lower bound: nothing to confirm against", AT_NOW, {}, False),
]


@pytest.mark.parametrize(("case", "bounds", "trust", "confirmed"), CONFIRMATION, ids=[c[0] for c in CONFIRMATION])
def test_confirmation(case: str, bounds: Bounds, trust: dict[str, Any], confirmed: bool) -> None:
    report = both_paths(store(**trust), DOCUMENT, signature("openssl", "applicant"), JPKI, bounds, case)
    assert report.passed and report.revocation is not None
    assert (report.revocation.confirmed, report.confirmed) == (confirmed, confirmed)
    wire = msgspec.to_builtins(report)["revocation"]
    assert wire["confirmed"] is confirmed and wire["kind"] in ("crl", "ocsp") and wire["this_update"]


def test_crl_of_a_new_generation_carried_by_the_signature() -> None:
    """A gen2 card, only gen1 anchored, the link certificate inside the CMS, both generations' CRLs."""
    signer = signers.SimpleSigner(
        signing_cert=pki.cert("applicant"),
        signing_key=pki.private_key("applicant"),
        cert_registry=SimpleCertificateStore.from_certs([pki.cert("jlis-link-new-with-old")]),
    )
    sig = asyncio.run(signer.async_sign_general_data(DOCUMENT, "sha256", detached=True)).dump()
    carried = carried_certificates(sig)
    gen1 = [a for a in pki.anchors() if a.certificate == pki.cert("jlis-root-gen1")]
    trust = TrustStore(gen1)
    trust.add_crl(pki.crl("jlis-gen1"))
    with pytest.raises(CRLRejected):
        trust.add_crl(pki.crl("jlis-gen2"))  # nobody the store knows signed it
    trust.add_crl(pki.crl("jlis-gen2"), carried=carried)
    report = Verifier(trust).verify(DOCUMENT, sig, JPKI, AT_NOW)
    assert report.passed, report.checks
    # The peer implementation agrees (certvalidator looks CRL issuers up by name: see PYHANKO_DIFFERS).
    assert openssl_verifies(sig, [pki.cert("jlis-root-gen1")], [pki.crl("jlis-gen1"), pki.crl("jlis-gen2")])
    assert not openssl_verifies(sig, [pki.cert("jlis-root-gen1")], [pki.crl("jlis-gen1")])
    assert report.revocation is not None and report.revocation.issuer_key_id == key_id(pki.cert("jlis-root-gen2")).hex()
    # A CRL checked against a carried certificate counts only for a chain through that very key.
    other = TrustStore(gen1)
    other.add_crl(pki.crl("jlis-gen2"), carried=carried)
    plain = signature("openssl", "applicant-gen1")  # a gen1 card: its issuer's key signed no CRL here
    assert other.crl_for(pki.cert("jlis-root-gen1")) is None
    assert Verifier(other).verify(DOCUMENT, plain, JPKI, AT_NOW).sub_indication == "TRY_LATER"


def openssl_verifies(sig: bytes, roots: list[Any], crls: list[Any], at: dt.datetime = pki.NOW) -> bool:
    """``openssl cms -verify -crl_check`` with the CRLs appended to the CA file (OpenSSL 3.0 has no -CRLfile)."""
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp)
        (base / "doc").write_bytes(DOCUMENT)
        (base / "sig").write_bytes(sig)
        ca = b"".join(pki.pem.armor("CERTIFICATE", r.dump()) for r in roots)
        ca += b"".join(pki.pem.armor("X509 CRL", c.dump()) for c in crls)
        (base / "ca.pem").write_bytes(ca)
        command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(base / "sig")]
        command += ["-content", str(base / "doc"), "-CAfile", str(base / "ca.pem"), "-crl_check", "-purpose", "any"]
        command += ["-attime", str(int(at.timestamp())), "-out", os.devnull]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0


def test_cache_shared_by_threads_gives_the_single_threaded_verdicts() -> None:
    """``averify`` runs in worker threads: a small, shared cache under contention changes no verdict."""
    jobs = [
        (label, bounds)
        for label in ("applicant", "second-applicant", "revoked-applicant", "expired-applicant", "applicant-gen1")
        for bounds in (AT_NOW, Bounds(validation_time=pki.NOW, signed_after=pki.NONCE_ISSUED))
    ]
    expected = {
        (label, bounds.signed_after): msgspec.json.encode(
            Verifier(store()).verify(DOCUMENT, signature("openssl", label), JPKI, bounds)
        )
        for label, bounds in jobs
    }
    shared = Verifier(store(), cache_size=2)  # smaller than the signers: constant eviction
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [
            (label, bounds, pool.submit(shared.verify, DOCUMENT, signature("openssl", label), JPKI, bounds))
            for _ in range(40)
            for label, bounds in jobs
        ]
        for label, bounds, future in futures:
            assert msgspec.json.encode(future.result()) == expected[(label, bounds.signed_after)]
    assert shared.hits + shared.misses == len(futures)
    assert len(shared._cache) <= 2


@pytest.mark.parametrize("maker", SIGNERS)
def test_tampered_document_and_flipped_signature(maker: str) -> None:
    sig = signature(maker, "applicant")
    report = both_paths(store(), DOCUMENT + b" ", sig, JPKI, AT_NOW)
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "HASH_FAILURE")
    info = cms.ContentInfo.load(sig)
    value = bytearray(info["content"]["signer_infos"][0]["signature"].native)
    value[-1] ^= 0x01
    flipped = sig.replace(bytes(info["content"]["signer_infos"][0]["signature"].native), bytes(value))
    report = both_paths(store(), DOCUMENT, flipped, JPKI, AT_NOW)
    assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "SIG_CRYPTO_FAILURE")


def test_rsa_pss_signatures_verify() -> None:
    signer = signers.SimpleSigner(
        signing_cert=pki.cert("applicant"),
        signing_key=pki.private_key("applicant"),
        cert_registry=SimpleCertificateStore.from_certs(pki.issuer_chain("applicant")),
        prefer_pss=True,
    )
    content = asyncio.run(signer.async_sign_general_data(DOCUMENT, "sha256", detached=True))
    algorithm = content["content"]["signer_infos"][0]["signature_algorithm"].signature_algo
    assert algorithm == "rsassa_pss"
    report = both_paths(store(), DOCUMENT, content.dump(), JPKI, AT_NOW)
    assert report.passed, report.checks


def test_sha1_is_refused() -> None:
    report = both_paths(store(), DOCUMENT, signature("openssl", "applicant", "sha1"), JPKI, AT_NOW)
    assert (report.indication, report.sub_indication) == ("INDETERMINATE", "CRYPTO_CONSTRAINTS_FAILURE_NO_POE")


def test_format_failures(tmp_path: Any) -> None:
    for garbage in (b"", b"not a cms", signature("openssl", "applicant")[:-40]):
        report = Verifier(store()).verify(DOCUMENT, garbage, JPKI, AT_NOW)
        assert (report.indication, report.sub_indication) == ("TOTAL_FAILED", "FORMAT_FAILURE")
    (tmp_path / "doc").write_bytes(DOCUMENT)
    (tmp_path / "cert.pem").write_bytes(pki.pem.armor("CERTIFICATE", pki.cert("applicant").dump()))
    (tmp_path / "key.pem").write_bytes(pki.pem.armor("PRIVATE KEY", pki.private_key("applicant").dump()))
    command = ["openssl", "cms", "-sign", "-nodetach", "-binary", "-outform", "DER", "-md", "sha256"]
    command += [
        "-in",
        str(tmp_path / "doc"),
        "-signer",
        str(tmp_path / "cert.pem"),
        "-inkey",
        str(tmp_path / "key.pem"),
    ]
    attached = subprocess.run(command, capture_output=True, check=True).stdout
    report = Verifier(store()).verify(DOCUMENT, attached, JPKI, AT_NOW)
    assert report.sub_indication == "FORMAT_FAILURE"
    assert report.checks[-1].detail == "the signature must be detached (no eContent)"


def test_two_signers_are_two_signatures() -> None:
    verifier = Verifier(store())
    first = verifier.verify(DOCUMENT, signature("pyhanko", "applicant"), JPKI, AT_NOW)
    second = verifier.verify(DOCUMENT, signature("openssl", "second-applicant"), JPKI, AT_NOW)
    assert first.passed and second.passed
    assert first.signer is not None and second.signer is not None
    assert first.signer.sha256 != second.signer.sha256


def test_report_details_and_jpki_items() -> None:
    report = Verifier(store()).verify(DOCUMENT, signature("openssl", "applicant"), JPKI, AT_NOW)
    assert report.holder is not None and report.signer is not None and report.revocation is not None
    assert (report.holder.name, report.holder.gender, report.holder.birth_date, report.holder.birth_era) == (
        "山田 太郎", "male", dt.date(1990, 2, 15), "平成",
    )  # fmt: skip
    assert report.holder.address == "埼玉県戸田市上戸田一丁目18番1号"
    assert report.signer.certificate_class == "jpki"
    assert report.signer.ca_generation == key_id(pki.cert("jlis-root-gen2")).hex()
    assert report.revocation.this_update == pki.CRL_DAY
    assert [c.name for c in report.checks] == [
        "format", "signing_certificate", "digest", "algorithms", "signature",
        "chain", "key_usage", "policy", "time_and_revocation",
    ]  # fmt: skip
    assert exit_status(report) == 0
    encoded = msgspec.json.encode(report)
    assert encoded == msgspec.json.encode(msgspec.json.decode(encoded, type=VerificationReport))
    second = Verifier(store()).verify(DOCUMENT, signature("openssl", "second-applicant"), JPKI, AT_NOW)
    assert second.holder is not None
    assert (second.holder.gender, second.holder.birth_era, second.holder.name_has_substitutes) == (
        "unknown",
        "令和",
        True,
    )
    corporate = Verifier(store()).verify(DOCUMENT, signature("openssl", "corporate-rep"), ANY, AT_NOW)
    assert corporate.holder is None and corporate.signer is not None
    assert "Sato Hanako" in corporate.signer.subject


def test_ocsp_is_reported_as_the_source() -> None:
    report = Verifier(store(None, ocsp=("applicant",))).verify(
        DOCUMENT, signature("openssl", "applicant"), JPKI, AT_NOW
    )
    assert report.passed and report.revocation is not None
    assert (report.revocation.kind, report.revocation.produced_at) == ("ocsp", pki.NOW)


def test_ocsp_from_an_unknown_responder_is_ignored() -> None:
    trust = TrustStore([a for a in pki.anchors() if a.certificate_class != "jpki"])
    with pytest.raises(OCSPRejected):
        trust.add_ocsp(pki.ocsp_response("applicant"))


def test_cache_is_used_and_refreshed_by_a_new_crl() -> None:
    verifier = Verifier(store())
    for _ in range(3):
        verifier.verify(DOCUMENT, signature("pyhanko", "applicant"), JPKI, AT_NOW)
    assert (verifier.misses, verifier.hits) == (1, 2)
    verifier.store = store(dt.datetime(2026, 11, 26, tzinfo=pki.UTC))
    verifier.verify(DOCUMENT, signature("pyhanko", "applicant"), JPKI, AT_NOW)
    assert verifier.misses == 2
    later = Bounds(validation_time=dt.datetime(2026, 11, 29, tzinfo=pki.UTC))  # past the CRL's nextUpdate
    assert verifier.verify(DOCUMENT, signature("pyhanko", "applicant"), JPKI, later).sub_indication == "TRY_LATER"
    assert verifier.misses == 3


def test_nothing_personal_in_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The verifier's own logs, at every level (the oracle is pyHanko's, which logs names: not run here)."""
    caplog.set_level(logging.DEBUG)
    revoked = Verifier(store()).verify(DOCUMENT, signature("pyhanko", "revoked-applicant"), JPKI, AT_NOW)
    forged = Verifier(store()).verify(DOCUMENT, signature("openssl", "forged-applicant"), JPKI, AT_NOW)
    assert (revoked.sub_indication, forged.indication) == ("REVOKED_NO_POE", "INDETERMINATE")  # as in CASES
    for secret in ("山田", "上戸田", "202501010003A", "202611270009A", "419900215"):
        assert secret not in caplog.text

"""The test PKI (certomancer.yml), with the clock pinned: TEST KEYS AND CERTIFICATES ONLY.

``NOW`` is the moment every test validates at: after the revoked signer's revocation (2026-06-01),
after the expired one's notAfter (2026-01-01), before the future one's notBefore (2027-06-01).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Final

from asn1crypto import crl as asn1_crl
from asn1crypto import keys, ocsp, pem, x509
from certomancer.registry import CertomancerConfig, PKIArchitecture
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.trust import Anchor, TrustStore, ocsp_request

HERE: Final = Path(__file__).parent
UTC: Final = dt.UTC
NOW: Final = dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
NONCE_ISSUED: Final = dt.datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
#: The CRL that was current at NOW (issued at 00:00 that day) and one issued after the nonce.
CRL_DAY: Final = dt.datetime(2026, 11, 27, tzinfo=UTC)


@cache
def arch() -> PKIArchitecture:
    return CertomancerConfig.from_file(str(HERE / "certomancer.yml")).get_pki_arch("shinsei")


def cert(label: str) -> x509.Certificate:
    return arch().get_cert(label)


def private_key(label: str) -> keys.PrivateKeyInfo:
    return arch().key_set.get_private_key(label)


def crl(repo: str, at: dt.datetime = CRL_DAY) -> asn1_crl.CertificateList:
    return arch().service_registry.get_crl(repo, at_time=at)


#: Which key signed each signer's certificate: its CRL repository.
CRL_REPOS: Final = ("jlis-gen2", "jlis-gen1", "jlis-test", "corporate", "accredited")
LINK_CERTS: Final = ("jlis-link-new-with-old", "jlis-link-old-with-new")


def anchors() -> list[Anchor]:
    return [
        Anchor(certificate=cert("jlis-root-gen1"), certificate_class="jpki"),
        Anchor(certificate=cert("jlis-root-gen2"), certificate_class="jpki"),
        Anchor(certificate=cert("jlis-test-root"), certificate_class="jpki", test=True),
        Anchor(certificate=cert("corporate-root"), certificate_class="corporate"),
        Anchor(certificate=cert("accredited-root"), certificate_class="accredited"),
    ]


def store(crl_time: dt.datetime | None = CRL_DAY, repos: tuple[str, ...] = CRL_REPOS, links: bool = True) -> TrustStore:
    """The standard trust store; ``crl_time=None`` means no CRLs at all."""
    crls = [crl(repo, crl_time) for repo in repos] if crl_time is not None else []
    return TrustStore(anchors(), [cert(c) for c in LINK_CERTS] if links else [], crls)


def issuer_chain(label: str) -> list[x509.Certificate]:
    issuer = arch().get_cert_spec(label).resolve_issuer_cert(arch())
    return [cert(issuer)]


def ocsp_response(label: str, at: dt.datetime = NOW, issuer_label: str = "jlis-root-gen2") -> ocsp.OCSPResponse:
    """The J-LIS-like responder's answer about ``label`` at ``at`` (in-process; nothing is served)."""
    responder = arch().service_registry.summon_responder("jlis-gen2", at_time=at)
    return responder.build_ocsp_response(ocsp_request(cert(label), cert(issuer_label)))


def sign_pyhanko(label: str, document: bytes, *, digest: str = "sha256") -> bytes:
    """A detached CMS made by pyHanko (as the applicant's software would)."""
    signer = signers.SimpleSigner(
        signing_cert=cert(label),
        signing_key=private_key(label),
        cert_registry=SimpleCertificateStore.from_certs(issuer_chain(label)),
    )
    content = asyncio.run(signer.async_sign_general_data(document, digest, detached=True))
    return bytes(content.dump())


def sign_pyhanko_sync(label: str, document: bytes) -> bytes:
    """``sign_pyhanko`` from inside a running event loop (it runs its own loop in a thread)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(sign_pyhanko, label, document).result()


def sign_openssl(label: str, document: bytes, *, digest: str = "sha256") -> bytes:
    """The same, made by the OpenSSL CLI: a peer implementation."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "doc").write_bytes(document)
        (base / "cert.pem").write_bytes(pem.armor("CERTIFICATE", cert(label).dump()))
        (base / "key.pem").write_bytes(pem.armor("PRIVATE KEY", private_key(label).dump()))
        result = subprocess.run(
            [
                "openssl", "cms", "-sign", "-binary", "-outform", "DER", "-md", digest,
                "-in", str(base / "doc"), "-signer", str(base / "cert.pem"), "-inkey", str(base / "key.pem"),
            ],
            capture_output=True,
            check=True,
        )  # fmt: skip
        return result.stdout

"""Signature verification: our cached verifier against pyHanko from scratch and the OpenSSL CLI.

The same 40 applications, each signed by a JPKI-style certificate (RSA-2048, SHA-256), verified with
the same trust anchors and CRL. "shinsei warm" has seen the certificate before (the cache holds its
chain, policy and revocation result); "pyHanko from scratch" is ``async_validate_detached_cms`` with a
fresh ValidationContext per signature, revocation required; "openssl cms -verify" runs the CLI per
document (process start included: that is how a script would use it). One core, interleaved rounds.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
from asn1crypto import cms, pem
from pyhanko.sign.validation import async_validate_detached_cms
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from signing.verify import Bounds, Policy, Verifier
from tests import pki

POLICY = Policy(classes=frozenset({"jpki"}))
BOUNDS = Bounds(validation_time=pki.NOW)


def main() -> None:
    store = pki.store()
    documents = [
        msgspec.json.encode({"form_id": "mhlw-36-agreement", "form_version": 1, "answers": {"n": i}}) for i in range(40)
    ]
    signed = [(doc, pki.sign_pyhanko("applicant", doc)) for doc in documents]
    verifier = Verifier(store)
    assert all(verifier.verify(d, s, POLICY, BOUNDS).passed for d, s in signed)
    loop = asyncio.new_event_loop()

    def pyhanko(document: bytes, signature: bytes) -> None:
        context = ValidationContext(
            trust_roots=[a.certificate for a in store.anchors if a.certificate_class == "jpki" and not a.test],
            other_certs=store.certificates,
            crls=list(store.crl_lists.values()),
            moment=pki.NOW,
            revocation_mode="require",
            allow_fetching=False,
        )
        status = loop.run_until_complete(
            async_validate_detached_cms(
                document,
                cms.ContentInfo.load(signature)["content"],
                signer_validation_context=context,
                key_usage_settings=KeyUsageConstraints(key_usage={"non_repudiation"}),
            )
        )
        assert status.bottom_line

    tmp = Path(tempfile.mkdtemp())
    # openssl cms reads CRLs from the CAfile, beside the anchors.
    anchors = b"".join(pem.armor("CERTIFICATE", a.certificate.dump()) for a in store.anchors)
    crls = b"".join(pem.armor("X509 CRL", c.dump()) for c in store.crl_lists.values())
    (tmp / "ca.pem").write_bytes(anchors + crls)
    for i, (doc, sig) in enumerate(signed):
        (tmp / f"{i}.doc").write_bytes(doc)
        (tmp / f"{i}.p7s").write_bytes(sig)
    index = {id(sig): i for i, (_, sig) in enumerate(signed)}

    def openssl(document: bytes, signature: bytes) -> None:
        i = index[id(signature)]
        subprocess.run(
            ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(tmp / f"{i}.p7s"),
             "-content", str(tmp / f"{i}.doc"), "-CAfile", str(tmp / "ca.pem"),
             "-crl_check", "-attime", str(int(pki.NOW.timestamp())), "-purpose", "any", "-out", "/dev/null"],
            check=True, capture_output=True,
        )  # fmt: skip

    contenders: dict[str, Callable[[bytes, bytes], object]] = {
        "shinsei warm": lambda d, s: verifier.verify(d, s, POLICY, BOUNDS),
        "shinsei cold": lambda d, s: Verifier(store).verify(d, s, POLICY, BOUNDS),
        "pyHanko from scratch": pyhanko,
        "openssl cms -verify": openssl,
    }
    best = dict.fromkeys(contenders, 0.0)
    for _ in range(5):
        for name, check in contenders.items():
            batch = signed if name.startswith("shinsei") else signed[:10]
            started = time.perf_counter()
            for doc, sig in batch:
                check(doc, sig)
            best[name] = max(best[name], len(batch) / (time.perf_counter() - started))
    ours = best["shinsei warm"]
    print(f"  {'verifier':<24}{'verifications/s':>16}{'shinsei warm is':>18}")
    for name, rate in best.items():
        ratio = "" if name == "shinsei warm" else f"{ours / rate:>14.1f}x"
        print(f"  {name:<24}{rate:>16,.0f}  {ratio}")
    print("\ntarget: shinsei warm >= 10x pyHanko from scratch")


if __name__ == "__main__":
    main()

"""The development CA and its test cards: the JPKI profile, read back by the verifier as a test card."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import msgspec
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from signing import devca, jpki
from signing.client import p12_signer, sign_detached
from signing.trust import Anchor, TrustStore
from signing.verify import Bounds, Policy, Verifier
from tests import pki

NOW = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
#: The test PKI applicant's items, so that the two encodings can be compared byte for byte.
APPLICANT = devca.CardHolder(
    name="山田 太郎", birth_date=dt.date(1990, 2, 15), address="埼玉県戸田市上戸田一丁目18番1号", gender="male"
)
DOCUMENT = msgspec.json.encode({"form_id": "nta-kaigyo-todoke", "form_version": 1, "nonce": "n" * 22, "answers": {}})


def asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))


def test_the_ca_is_made_once_and_kept(tmp_path: Path) -> None:
    ca, created = devca.load_or_create_ca(tmp_path / "dev", NOW)
    again, created_again = devca.load_or_create_ca(tmp_path / "dev", NOW + dt.timedelta(days=1))
    assert (created, created_again) == (True, False)
    assert again.certificate == ca.certificate
    assert stat.S_IMODE((tmp_path / "dev" / devca.CA_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "dev").stat().st_mode) == 0o700
    assert ca.path == tmp_path / "dev" / devca.CA_CERT_FILE
    names = asn1(ca.certificate).subject.native
    assert "TEST" in names["common_name"] and "not J-LIS" in names["organization_name"]
    assert asn1(ca.certificate).ca


def test_a_card_has_the_jpki_profile_with_the_test_policy(tmp_path: Path) -> None:
    ca, _ = devca.load_or_create_ca(tmp_path, NOW)
    _, card = devca.issue_card(ca, APPLICANT, NOW)
    read = asn1(card)
    assert jpki.holder(read) == jpki.holder(pki.cert("applicant"))
    # The very bytes the test PKI's certomancer plugin writes: one encoding, in signing/jpki.py.
    assert read.subject_alt_name_value.dump() == pki.cert("applicant").subject_alt_name_value.dump()
    assert jpki.policies(read) == {jpki.TEST_SIGNING_POLICY}
    usage = card.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign


@pytest.mark.parametrize(
    ("date", "encoded"),
    [
        (dt.date(1990, 2, 15), "419900215"),
        (dt.date(1989, 1, 7), "319890107"),  # 昭和64年, the last day of 昭和
        (dt.date(1989, 1, 8), "419890108"),  # 平成元年
        (dt.date(2019, 4, 30), "420190430"),
        (dt.date(2019, 5, 1), "520190501"),  # 令和元年
        (dt.date(1926, 12, 25), "319261225"),
        (dt.date(1912, 7, 30), "219120730"),
        (dt.date(1900, 1, 1), "119000101"),
    ],
)
def test_birth_dates_carry_their_era(date: dt.date, encoded: str) -> None:
    assert jpki.encode_birth(date) == encoded
    assert jpki.decode_birth(encoded) == (date, jpki.ERAS[encoded[0]])


def test_before_meiji_there_is_no_era_code() -> None:
    with pytest.raises(ValueError, match="before 明治"):
        jpki.encode_birth(dt.date(1868, 1, 1))


def test_a_saved_card_signs_and_verifies_only_where_test_anchors_count(tmp_path: Path) -> None:
    ca, _ = devca.load_or_create_ca(tmp_path / "dev", NOW)
    key, card = devca.issue_card(ca, APPLICANT, NOW)
    p12, password_file = devca.save_card(tmp_path / "me", key, card, ca)
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    password = password_file.read_text().rstrip("\n")
    assert len(password) >= 24
    signature = sign_detached(DOCUMENT, p12_signer(p12.read_bytes(), password.encode()))

    crl = asn1_crl.CertificateList.load(devca.issue_crl(ca, NOW).public_bytes(Encoding.DER))
    later = Bounds(validation_time=NOW + dt.timedelta(hours=1))
    test_anchor = Anchor(certificate=asn1(ca.certificate), certificate_class="jpki", test=True)
    store = TrustStore([test_anchor], crls=[crl])
    passed = Verifier(store).verify(DOCUMENT, signature, Policy(classes=frozenset({"jpki"}), accept_test=True), later)
    assert (passed.indication, passed.sub_indication, passed.test) == ("TOTAL_PASSED", None, True)
    assert passed.holder == jpki.holder(pki.cert("applicant"))

    refused = Verifier(store).verify(DOCUMENT, signature, Policy(classes=frozenset({"jpki"})), later)
    assert (refused.indication, refused.sub_indication) == ("INDETERMINATE", "CHAIN_CONSTRAINTS_FAILURE")
    # Registered by mistake as a production anchor, the CA still cannot make a valid card: wrong policy.
    production = TrustStore([Anchor(certificate=asn1(ca.certificate), certificate_class="jpki")], crls=[crl])
    mistaken = Verifier(production).verify(DOCUMENT, signature, Policy(classes=frozenset({"jpki"})), later)
    assert mistaken.sub_indication == "CHAIN_CONSTRAINTS_FAILURE"
    assert f"policy {jpki.SIGNING_POLICY} is required" in [c.detail for c in mistaken.checks]


def test_each_crl_is_current_for_a_week_and_numbered_upwards(tmp_path: Path) -> None:
    ca, _ = devca.load_or_create_ca(tmp_path, NOW)
    first, second = devca.issue_crl(ca, NOW), devca.issue_crl(ca, NOW + dt.timedelta(seconds=1))
    assert first.next_update_utc == NOW + devca.CRL_LIFETIME
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number for c in (first, second)]
    assert numbers[0] < numbers[1]
    assert first.is_signature_valid(ca.key.public_key())

"""The digital policy follows from the legacy requirements, unless an agency overrides it."""

from __future__ import annotations

import pytest

from service.catalog import policy
from service.catalog.schemas import LegacyRequirements, PolicyOverride


@pytest.mark.parametrize(
    ("seal", "in_person", "signature", "proofing"),
    [
        ("none", False, "any-trusted", False),
        ("ordinary", False, "any-trusted", False),
        ("registered", False, "qualified", True),
        ("none", True, "qualified", True),
        ("ordinary", True, "qualified", True),
        ("registered", True, "qualified", True),
    ],
)
def test_derivation(seal: str, in_person: bool, signature: str, proofing: bool) -> None:
    derived = policy.derive(LegacyRequirements(paper=True, seal=seal, in_person=in_person))  # type: ignore[arg-type]
    assert (derived.signature, derived.identity_proofing, derived.source) == (signature, proofing, "derived")


def test_override_wins_and_keeps_its_reason() -> None:
    legacy = LegacyRequirements(paper=True, seal="registered", in_person=False)
    override = PolicyOverride(signature="any-trusted", identity_proofing=False, reason="印鑑証明の添付を廃止")
    result = policy.effective(legacy, override)
    assert (result.signature, result.source, result.reason) == ("any-trusted", "override", "印鑑証明の添付を廃止")

"""The digital policy derived from a procedure's legacy requirements."""

from __future__ import annotations

from service.catalog.schemas import DigitalPolicy, LegacyRequirements, PolicyOverride


def derive(legacy: LegacyRequirements) -> DigitalPolicy:
    """Registered seal or in-person check → qualified signature and identity proofing.

    A registered seal with its certificate (実印 + 印鑑証明書) and a visit to the counter both
    established *who* the applicant is; online, only a qualified certificate does the same
    (the JPKI signing certificate for individuals, the commercial-registration certificate for
    corporations). An ordinary seal (認印) proved nothing about identity, so any certificate of
    a trusted class replaces it.
    """
    strong = legacy.seal == "registered" or legacy.in_person
    return DigitalPolicy(signature="qualified" if strong else "any-trusted", identity_proofing=strong, source="derived")


def effective(legacy: LegacyRequirements, override: PolicyOverride | None) -> DigitalPolicy:
    if override is None:
        return derive(legacy)
    return DigitalPolicy(
        signature=override.signature,
        identity_proofing=override.identity_proofing,
        source="override",
        reason=override.reason,
    )

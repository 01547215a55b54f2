"""certomancer plugin: the JPKI holder's four basic items as subjectAltName otherNames."""

from __future__ import annotations

from typing import Any

from asn1crypto import core, x509
from certomancer.registry import ExtensionPlugin, PKIArchitecture, extension_plugin_registry

from signing import jpki


@extension_plugin_registry.register
class JPKIHolder(ExtensionPlugin):  # type: ignore[misc]
    """``smart-value: {schema: jpki-holder, params: {name, gender, birth, address}}``."""

    schema_label = "jpki-holder"
    extension_type = None

    def provision(self, extn_id: Any, arch: PKIArchitecture, params: dict[str, str]) -> list[x509.GeneralName]:
        # Built as DER by hand: asn1crypto drops the [0] EXPLICIT tag of AnotherName.value when it
        # re-serialises a value assigned to it, so the encoding is made here and only loaded.
        names = []
        for oid, value in jpki.other_names({key: str(value) for key, value in params.items()}):
            inner = core.ObjectIdentifier(oid).dump() + _tlv(0xA0, value)
            names.append(x509.GeneralName.load(_tlv(0xA0, inner)))
        return names


def _tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(encoded)]) + encoded + content

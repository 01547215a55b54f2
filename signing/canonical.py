"""The one place signed JSON bytes come from: sorted keys, no whitespace, UTF-8."""

from __future__ import annotations

from typing import Any, Final

import msgspec

_encoder: Final = msgspec.json.Encoder(order="sorted")


def encode(value: Any) -> bytes:
    return _encoder.encode(value)

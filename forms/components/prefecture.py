"""``prefecture``: a JIS X 0401 code (``01``-``47``) or the prefecture's name (``東京都``)."""

from __future__ import annotations

from typing import Any, Final, Literal

from forms.components.base import Component
from forms.schema import PrefectureField

#: JIS X 0401, in code order.
NAMES: Final = (
    "北海道", "青森県", "岩手県", "宮城県", "秋田県", "山形県", "福島県", "茨城県", "栃木県", "群馬県",
    "埼玉県", "千葉県", "東京都", "神奈川県", "新潟県", "富山県", "石川県", "福井県", "山梨県", "長野県",
    "岐阜県", "静岡県", "愛知県", "三重県", "滋賀県", "京都府", "大阪府", "兵庫県", "奈良県", "和歌山県",
    "鳥取県", "島根県", "岡山県", "広島県", "山口県", "徳島県", "香川県", "愛媛県", "高知県", "福岡県",
    "佐賀県", "長崎県", "熊本県", "大分県", "宮崎県", "鹿児島県", "沖縄県",
)  # fmt: skip
BY_CODE: Final = {f"{i:02d}": name for i, name in enumerate(NAMES, start=1)}
BY_NAME: Final = {name: code for code, name in BY_CODE.items()}
VALUES: Final = (*BY_CODE, *NAMES)


def normalise(value: str) -> str:
    """The two-digit code, whichever form was sent."""
    return BY_NAME.get(value, value)


class Prefecture(Component[PrefectureField]):
    spec_type = PrefectureField

    def annotation(self, spec: PrefectureField) -> Any:
        return Literal[VALUES]

    def json_schema(self, spec: PrefectureField) -> dict[str, Any]:
        return {"enum": list(VALUES)}

    def display(self, spec: PrefectureField, value: Any) -> str:
        return BY_CODE.get(value) or str(value)  # a code becomes its name; a name is shown as sent

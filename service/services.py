"""What the routes use besides the request and the connection, built once per app and injected.

``create_app`` builds one ``Services`` in its lifespan (the receipt key and the verifiers need the
process to be up) and hands it to every route that asks for a ``services`` parameter, so a route
never reads ``app.state`` by name and a test can give the app a clock of its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeAlias

import msgspec
from litestar.datastructures import State
from litestar.di import NamedDependency
from pyhanko.sign.timestamps import TimeStamper

from service.metrics.collectors import Metrics
from service.mynumber.keystore import KeyStore
from service.publishing.cache import CompiledForms
from service.settings import Settings
from service.submissions.attachments import AttachmentStore
from service.trust.service import Ask, Verifiers
from signing.fonts import Typeface
from signing.receipt_keys import ReceiptKey

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Services(msgspec.Struct, frozen=True, kw_only=True):
    settings: Settings
    compiled_forms: CompiledForms
    """The form versions this process has compiled, by form, version and schema hash."""
    verifiers: Verifiers
    """The signature verifier of the current trust generation (``await verifiers.current(conn)``)."""
    receipt_key: ReceiptKey
    """The agency-side key that signs receipts and decision notices, with its chain."""
    attachments: AttachmentStore
    typeface: Typeface
    """The font the receipt and notice PDFs are set in."""
    metrics: Metrics
    ask_ocsp: Ask
    timestamper: TimeStamper | None = None
    """An RFC 3161 service when ``SHINSEI_TSA_URL`` is set."""
    clock: Clock = system_clock
    """Now, in UTC: the time of intake, decisions and every validation."""
    my_number: KeyStore = msgspec.field(default_factory=lambda: KeyStore(None))
    """The agencies' 個人番号 data keys; without a master key (production unset) it refuses to encrypt."""


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


#: A route parameter that receives the app's services.
Injected: TypeAlias = NamedDependency[Services]

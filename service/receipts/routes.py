"""``GET /api/v1/receipts/certificate``: the receipt chain, ending in the agency root."""

from __future__ import annotations

from litestar import Response, get

from service.services import Injected
from signing.receipt_keys import ReceiptKey


@get("/api/v1/receipts/certificate", tags=["receipts"], summary="The receipt signing chain (PEM)")
async def receipt_certificate(services: Injected) -> Response[bytes]:
    """Receipt certificate first, self-signed agency root last: ``openssl cms -verify -CAfile`` takes it as is."""
    key: ReceiptKey = services.receipt_key
    return Response(key.chain_pem(), media_type="application/pem-certificate-chain")

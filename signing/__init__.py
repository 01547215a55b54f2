"""Signing: signature verification, the trust store, the signing client and receipts."""

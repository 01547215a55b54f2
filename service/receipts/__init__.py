"""Receipts: the agency's signing key and the chain anyone needs to check a receipt offline."""

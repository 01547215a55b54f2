"""Submissions: signed applications in, signed receipts out, nothing lost, nothing replayed."""

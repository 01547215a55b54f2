"""The audit trail: append-only and hash-chained (``trail``), with its head published (``routes``)."""

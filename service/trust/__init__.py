"""The trust store, administered: anchors, extra certificates and CRLs, kept in the database."""

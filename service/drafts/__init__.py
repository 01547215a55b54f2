"""Applicants' drafts: unsigned answers saved and resumed, finalised into the document to sign."""

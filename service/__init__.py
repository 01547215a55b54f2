"""shinsei: the HTTP service, persistence and workflow."""

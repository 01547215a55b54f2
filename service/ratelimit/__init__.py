"""Rate limits of anonymous endpoints that create state."""

"""Forms: the schema language agencies write, immutable versions, and answer validation."""

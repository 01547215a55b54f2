"""個人番号: envelope encryption at rest, the per-agency data keys, masking and reveal."""

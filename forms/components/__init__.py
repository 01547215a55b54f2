"""Field types: one module each, gathered by ``registry.default_components()``."""

"""Publishing forms: agencies write schemas, version them, publish and retire them."""

"""The SQL migrations, shipped inside the wheel as the resource package ``service.migrations`` (see setup.py)."""

"""Packages for setuptools; the rest of the build is in pyproject.toml.

The migrations stay in the top-level ``migrations/`` folder (where reviewers and operators look for
them) yet ship inside the wheel as the resource package ``service.migrations``: ``package_dir`` maps
one onto the other, and pyproject.toml's ``[tool.setuptools]`` cannot combine that mapping with
package discovery, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["service*", "forms*", "signing*"]),
        "service.migrations",
        "service.samples",
        "service.samples.forms",
    ],
    package_dir={"service.migrations": "migrations"},
)

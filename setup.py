"""Which packages the distribution holds; everything else is in pyproject.toml.

The top-level `migrations/` folder (Alembic's home in a checkout) is installed as the package
`infra.db.migrations`, so that a wheel carries the schema's history beside the code that
applies it (`infra/db/schema.py` finds it there). pyproject.toml alone cannot map a folder
outside the packages into one of them while also finding the packages.
"""

from setuptools import find_packages, setup

# Folders of data, not code (the bundled weights with their licences, the web page): named
# as packages so that setuptools installs them as such instead of warning that it would not.
DATA_PACKAGES = ["engine.bundled", "engine.bundled.models", "engine.service.static"]

MIGRATIONS = {
    "infra.db.migrations": "migrations",
    "infra.db.migrations.versions": "migrations/versions",
}

setup(
    packages=[
        *find_packages(include=["beautynet*", "engine*", "bot*", "infra*"]),
        *DATA_PACKAGES,
        *MIGRATIONS,
    ],
    package_dir=MIGRATIONS,
)

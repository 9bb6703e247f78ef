"""The database's errors, apart from the modules that need SQLAlchemy and Alembic (so that a
command that may meet one imports neither until it opens the database)."""


class SchemaError(RuntimeError):
    """The database schema does not match the code: refuse to start."""

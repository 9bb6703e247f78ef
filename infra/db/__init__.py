"""Persistence: SQLAlchemy 2 async models, engines, migrations, the request log and queries."""

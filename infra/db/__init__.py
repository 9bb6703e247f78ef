"""Persistence: SQLAlchemy 2 async models, engines, migrations, the request log, training runs
and the read queries."""

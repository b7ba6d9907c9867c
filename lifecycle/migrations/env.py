"""Alembic's environment: runs migrations on the connection :mod:`lifecycle.schema` hands over.

There is no ``alembic.ini``: ``matcher db upgrade`` (or :func:`lifecycle.schema.upgrade`) passes
an open connection in ``config.attributes["connection"]``, inside its own transaction.
"""

from __future__ import annotations

from alembic import context

from lifecycle.schema import tables

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=tables(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

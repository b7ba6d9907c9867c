"""The database's schema revision: Alembic migrations, and whether this release may serve it.

Every table lives in :mod:`lifecycle` models on one ``Base``; the migrations in
``lifecycle/migrations/versions`` take a database from the first release's schema to this
release's, one revision per change. The service never changes an existing schema on its own:
:func:`prepare` creates a new, empty database at the latest revision, accepts one that is at it,
and refuses anything else with :class:`SchemaError`, whose message names the command that
upgrades it (``matcher db upgrade``). Upgrading is a deliberate step because a city's operator
takes a backup first, and because two releases must never write one schema at the same time.

A database made by the first release has no ``alembic_version`` table; :func:`upgrade` marks it
as the first revision (after checking that its tables are the first release's) and then applies
the rest, keeping every row and the audit chain.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect

from lifecycle.db import Base

MIGRATIONS = Path(__file__).resolve().with_name("migrations")
FIRST_RELEASE = "0001"
VERSION_TABLE = "alembic_version"
# Tables every first-release database has: a database without a version table but with these is
# a first-release database (anything else without a version table is refused, never guessed at).
FIRST_RELEASE_TABLES = frozenset({"audit_records", "cases", "subjects", "data_keys", "face_templates"})


class SchemaState(enum.Enum):
    EMPTY = "empty"  # none of our tables: the service creates the schema at the latest revision
    CURRENT = "current"  # at this release's revision
    BEHIND = "behind"  # an older revision (or the first release): `matcher db upgrade`
    UNKNOWN = "unknown"  # a revision this release does not know (a newer release?), or not ours


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    revision: str | None  # the database's, None when it has no version table
    head: str  # this release's

    def describe(self) -> str:
        at = self.revision or ("none" if self.state is SchemaState.EMPTY else "the first release's")
        return f"schema revision {at}, this release's {self.head} ({self.state.value})"


class SchemaError(Exception):
    """The database's schema is not this release's; the message names the fix, in one line."""


def tables() -> MetaData:
    """This release's tables (importing every model module registers them on ``Base``)."""
    from lifecycle import (  # noqa: F401  (tables)
        access_models,
        changes,
        disclosure,
        governance_models,
        models,
        order_models,
        search_models,
        waivers,
    )

    return Base.metadata


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """This release's revision."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def status(engine: Engine) -> SchemaStatus:
    """Where the database's schema stands relative to this release."""
    latest = head()
    with engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        revision = MigrationContext.configure(connection).get_current_revision()
    ours = present & set(tables().tables)
    if revision is None:
        if not ours:
            return SchemaStatus(SchemaState.EMPTY, None, latest)
        state = SchemaState.BEHIND if present >= FIRST_RELEASE_TABLES else SchemaState.UNKNOWN
        return SchemaStatus(state, None, latest)
    if revision == latest:
        return SchemaStatus(SchemaState.CURRENT, revision, latest)
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    return SchemaStatus(SchemaState.BEHIND if revision in known else SchemaState.UNKNOWN, revision, latest)


def create(engine: Engine) -> None:
    """Creates this release's schema in an empty database and marks it as the latest revision."""
    tables().create_all(engine)
    with engine.begin() as connection:
        command.stamp(_config(connection), "head")


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Brings the database to this release's revision; returns (from, to).

    An empty database gets every migration from the first one (so that the migrations, not only
    the models, are proven to give this release's schema); a first-release database (no version
    table) is marked as revision 0001 first. Each migration runs in the database's transaction
    (PostgreSQL's DDL is transactional; on SQLite a failed step leaves the file as it was, since
    Alembic's batch mode copies tables).
    """
    before = status(engine)
    if before.state is SchemaState.UNKNOWN:
        raise SchemaError(unknown_message(before))
    if before.state is SchemaState.CURRENT:
        return before.revision, before.head
    with engine.begin() as connection:
        config = _config(connection)
        if before.state is SchemaState.BEHIND and before.revision is None:
            command.stamp(config, FIRST_RELEASE)
        command.upgrade(config, "head")
    if before.state is SchemaState.EMPTY:
        return None, before.head
    return before.revision or FIRST_RELEASE, before.head


def unknown_message(found: SchemaStatus) -> str:
    if found.revision is None:
        return (
            "the database holds tables that are not this service's and no schema revision: "
            "point --database-url at the matcher's own database"
        )
    return (
        f"the database is at schema revision {found.revision}, which this release does not know "
        f"(its latest is {found.head}): run the release that wrote it, or a newer one"
    )


def prepare(engine: Engine, where: str) -> None:
    """What the service does at start: create an empty database, accept a current one, refuse
    any other (``where``: the database URL without its password, for the message)."""
    found = status(engine)
    if found.state is SchemaState.EMPTY:
        create(engine)
    elif found.state is SchemaState.BEHIND:
        raise SchemaError(
            f"the database {where} is at an older schema ({found.revision or 'the first release'}, "
            f"this release needs {found.head}): back it up, then run: "
            f"matcher db upgrade --database-url {where}"
        )
    elif found.state is SchemaState.UNKNOWN:
        raise SchemaError(unknown_message(found))

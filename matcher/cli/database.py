"""``matcher db``: the database's schema revision, shown and upgraded (run on the server machine).

``matcher serve`` never changes an existing schema; after installing a new release the operator
backs the database up and runs ``matcher db upgrade`` (with the same ``--database-url`` or
``--data-dir`` as ``serve``), which says which revisions it applied.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError


def _engine_and_where(args: argparse.Namespace) -> tuple[Any, str]:
    from lifecycle.db import make_engine
    from matcher.cli.local import settings_of

    settings = settings_of(args)
    where = make_url(settings.database_url).render_as_string(hide_password=True)
    if settings.database_url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return make_engine(settings.database_url), where


def current(args: argparse.Namespace) -> int:
    from lifecycle import schema

    engine, where = _engine_and_where(args)
    try:
        found = schema.status(engine)
    except OperationalError:
        print(f"error: cannot reach the database at {where}: check --database-url", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if args.json:
        print(
            json.dumps(
                {
                    "database": where,
                    "revision": found.revision,
                    "head": found.head,
                    "state": found.state.value,
                }
            )
        )
    else:
        print(f"{where}: {found.describe()}")
    return 0 if found.state is schema.SchemaState.CURRENT else 1


def upgrade(args: argparse.Namespace) -> int:
    from lifecycle import schema

    engine, where = _engine_and_where(args)
    try:
        before, after = schema.upgrade(engine)
    except OperationalError:
        print(f"error: cannot reach the database at {where}: check --database-url", file=sys.stderr)
        return 2
    except schema.SchemaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    if before == after:
        print(f"{where}: already at schema revision {after}")
    else:
        print(f"{where}: upgraded from {before or 'an empty database'} to schema revision {after}")
    return 0


def register(commands: Any) -> None:
    group = commands.add_parser("db", help="the database's schema revision (run on the server machine)")
    actions = group.add_subparsers(dest="action", required=True)
    for name, handler, about in (
        ("current", current, "show the database's schema revision and this release's (exit 1 when behind)"),
        ("upgrade", upgrade, "bring the database to this release's schema (back it up first)"),
    ):
        action = actions.add_parser(name, help=about)
        action.add_argument("--data-dir", help="the service's data folder (default ./matcher-data)")
        action.add_argument("--database-url", help="SQLAlchemy URL (default SQLite in the data folder)")
        action.set_defaults(handler=handler, local=True)

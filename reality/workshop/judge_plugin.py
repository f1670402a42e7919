"""A pytest plugin loaded into the run that checks a participant's test (``-p reality.workshop.judge_plugin``).

The check needs three things from inside that run, which it cannot see from outside:

* which tests used the workshop's ``db`` fixture, and whether the others opened a database of their
  own (a test may bring its own container and table);
* for such a self-contained test, the run "without the constraint": there, every PostgreSQL the test
  connects to is told to drop its UNIQUE constraints, the ones already there and each one the test
  creates, at once (an event trigger). That is the workshop's "same table without UNIQUE (sku)",
  done by the database itself rather than by rewriting the participant's SQL;
* a Testcontainers session id chosen by the workshop, so containers the test starts and leaves
  behind (the reaper is off on machines without its image) can be found and removed.

It reports what it saw in a small JSON file (:data:`REPORT_ENV`), read by :mod:`.exercise`.

It also makes the run cheaper for the participant waiting on it, without changing what it finds:
what was loaded before the tests is frozen out of the garbage collector's sight, and a run stopped
by Ctrl+C (a hanging test, cancelled) does not format a traceback nobody reads.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest

from ..errors import first_line
from .products_db import DSN_ENV, REPORT_ENV, SCHEMA_ENV, SESSION_ENV

LABELS_MODULE = "testcontainers.core.labels"

#: Drops every UNIQUE constraint (and unique index) a test creates, the moment it creates it. Event
#: triggers are per database and need a superuser, which a Testcontainers PostgreSQL user is.
FORGET_UNIQUE = r"""
DO $install$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'reality_workshop_forget_unique') THEN
        CREATE OR REPLACE FUNCTION reality_workshop_forget_unique() RETURNS event_trigger
        LANGUAGE plpgsql AS $forget$
        DECLARE
            command record;
            doomed record;
        BEGIN
            IF current_setting('reality_workshop.forgetting', true) = 'on' THEN
                RETURN;  -- the ALTER TABLE below fires this trigger again
            END IF;
            PERFORM set_config('reality_workshop.forgetting', 'on', true);
            FOR command IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'table' LOOP
                FOR doomed IN SELECT conname FROM pg_constraint WHERE conrelid = command.objid AND contype = 'u' LOOP
                    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', command.objid::regclass, doomed.conname);
                END LOOP;
            END LOOP;
            FOR command IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE object_type = 'index' LOOP
                IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = command.objid AND indisunique AND NOT indisprimary)
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = command.objid) THEN
                    EXECUTE format('DROP INDEX %s', command.objid::regclass);
                END IF;
            END LOOP;
            PERFORM set_config('reality_workshop.forgetting', 'off', true);
        END
        $forget$;
        CREATE EVENT TRIGGER reality_workshop_forget_unique ON ddl_command_end
            WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE', 'CREATE INDEX')
            EXECUTE FUNCTION reality_workshop_forget_unique();
    END IF;
END
$install$;
DO $existing$
DECLARE
    doomed record;
BEGIN
    -- Tables made before the test connected (an init script in its container) lose theirs too.
    FOR doomed IN SELECT c.conrelid::regclass AS tab, c.conname FROM pg_constraint c
                  JOIN pg_namespace n ON n.oid = c.connamespace
                  WHERE c.contype = 'u' AND n.nspname NOT IN ('pg_catalog', 'information_schema') LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', doomed.tab, doomed.conname);
    END LOOP;
END
$existing$;
"""


class JudgeReport:
    """What this run saw, written to :data:`REPORT_ENV` after every change (a killed run keeps its part)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.data: dict[str, Any] = {"uses_db": [], "own_databases": 0, "constraints_removed": 0, "errors": []}

    def add(self, key: str, value: Any) -> None:
        if isinstance(self.data[key], list):
            if value not in self.data[key]:
                self.data[key].append(value)
        else:
            self.data[key] += value
        if self.path is not None:
            self.path.write_text(json.dumps(self.data))


def _same_server(conn: psycopg2.extensions.connection, dsn: str | None) -> bool:
    """True when ``conn`` is to the workshop's own database (never touched here)."""
    if not dsn:
        return False
    try:
        given = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return False
    return str(conn.info.port) == str(given.get("port", 5432)) and conn.info.dbname == given.get("dbname")


def _forget_unique(conn: psycopg2.extensions.connection, report: JudgeReport) -> None:
    """Install the event trigger on ``conn``'s database, outside whatever transaction the test runs."""
    autocommit = conn.autocommit
    try:
        conn.autocommit = True  # a fresh connection has no transaction open: this is always allowed
        with conn.cursor() as cursor:
            cursor.execute(FORGET_UNIQUE)
        report.add("constraints_removed", 1)
    except psycopg2.Error as exc:
        report.add("errors", first_line(exc.pgerror or exc))
    finally:
        conn.autocommit = autocommit


def watch_connections(report: JudgeReport, forget_unique: bool) -> None:
    """Every ``psycopg2.connect`` of the test (SQLAlchemy's too) is counted, and in the run without the
    constraint its database forgets UNIQUE constraints."""
    original = psycopg2.connect
    seen: set[tuple[str, str, str]] = set()

    def connect(*args: Any, **kwargs: Any) -> psycopg2.extensions.connection:
        conn = original(*args, **kwargs)
        if _same_server(conn, os.environ.get(DSN_ENV)):
            return conn
        server = (str(conn.info.host), str(conn.info.port), str(conn.info.dbname))
        if server not in seen:
            seen.add(server)
            report.add("own_databases", 1)
            if forget_unique:
                _forget_unique(conn, report)
        return conn

    connect.__doc__ = original.__doc__
    psycopg2.connect = connect


class _FixedSessionId(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Gives Testcontainers the workshop's session id as its labels module is imported."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._loader: Any = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname != LABELS_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        self._loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.SESSION_ID = self.session_id  # read by every container this run creates


def fix_session_id(session_id: str) -> None:
    if LABELS_MODULE in sys.modules:  # imported already (by another plugin): set it there
        sys.modules[LABELS_MODULE].SESSION_ID = session_id
    else:
        sys.meta_path.insert(0, _FixedSessionId(session_id))


_report = JudgeReport(os.environ.get(REPORT_ENV))
if os.environ.get(SESSION_ENV):
    fix_session_id(os.environ[SESSION_ENV])
# At import, before the participant's module imports psycopg2's connect under another name.
watch_connections(_report, forget_unique=os.environ.get(SCHEMA_ENV) == "no-constraint")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if "db" in getattr(item, "fixturenames", ()):
        _report.add("uses_db", item.name)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # Every object loaded so far (pytest, its plugins, psycopg2) is kept out of the collector's sight
    # from now on: at its end pytest collects garbage five times over (to find unraisable exceptions
    # raised in finalizers), which over that heap cost 0.12 s of a check's 0.43 s of CPU, in each of
    # its two runs. What the participant's test creates is still looked at.
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """A check stopped by Ctrl+C ends at once: its traceback is cut to the entry pytest prints.

    pytest formats the whole traceback of the interrupt, the source of every frame of its own and
    pluggy's included (0.3 s of CPU in each of the check's two runs), to print one line of it: the
    last entry not hidden, where the test was interrupted. The check shows none of it anyway.
    """
    traceback = excinfo.traceback
    shown = next((index for index in range(len(traceback) - 1, -1, -1) if not traceback[index].ishidden(excinfo)),
                 None)
    if shown is not None:
        excinfo.traceback = traceback[shown:]

"""The hands-on exercise's database: a real PostgreSQL with a fresh ``products`` table for every test.

The exercise folder's ``conftest.py`` imports the ``db`` fixture from here. When the workshop checks a
participant's test it hands over a running PostgreSQL (``REALITY_EXERCISE_DSN``) and says which
schema to create (``REALITY_EXERCISE_SCHEMA``): the real one, with ``UNIQUE (sku)``, or the same table
without the constraint. A test that proves the constraint passes on the first and fails on the second.
Run by hand (``pytest exercise/``), the fixture starts its own container with Testcontainers.
"""

from __future__ import annotations

import os
from typing import Iterator

import psycopg2
import pytest

DSN_ENV = "REALITY_EXERCISE_DSN"
SCHEMA_ENV = "REALITY_EXERCISE_SCHEMA"
#: Where the judging plugin writes what it saw, and the Testcontainers session id it gives the run.
REPORT_ENV = "REALITY_JUDGE_REPORT"
SESSION_ENV = "REALITY_JUDGE_SESSION"


def pytest_configure(config: pytest.Config) -> None:
    """Deprecation warnings in the exercise are shown, not fatal.

    The repository's pytest.ini turns every warning into an error (right for the project's own
    suite), which would refuse the tutorials' ``from testcontainers.postgres import PostgresContainer``.
    The exercise's conftest imports this hook, so a run by hand behaves like the workshop's check.
    """
    config.addinivalue_line("filterwarnings", "default::DeprecationWarning")
    config.addinivalue_line("filterwarnings", "default::PendingDeprecationWarning")

#: The shop's table as it really is: two products can never share a SKU.
WITH_UNIQUE_SKU = """
CREATE TABLE products (
    id          BIGSERIAL PRIMARY KEY,
    sku         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL,
    CONSTRAINT products_sku_unique UNIQUE (sku)
);
"""

#: The same table with the constraint forgotten: the bug a good test must catch.
WITHOUT_CONSTRAINT = """
CREATE TABLE products (
    id          BIGSERIAL PRIMARY KEY,
    sku         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    price_cents INTEGER NOT NULL
);
"""

SCHEMAS = {"unique": WITH_UNIQUE_SKU, "no-constraint": WITHOUT_CONSTRAINT}


@pytest.fixture(scope="session")
def products_postgres() -> Iterator[str]:
    """URL of a real PostgreSQL: the workshop's, or one started here with Testcontainers."""
    given = os.environ.get(DSN_ENV)
    if given:
        yield given
        return
    from reality.orchestration import Infrastructure  # only when run by hand: keeps checks fast to start
    from reality.errors import RealityError

    try:
        infra = Infrastructure(role="exercise")
        infra.start("postgres")
    except RealityError as exc:
        pytest.fail(str(exc), pytrace=False)
    with infra:
        yield infra.postgres_url


@pytest.fixture
def db(products_postgres: str) -> Iterator[psycopg2.extensions.connection]:
    """A connection (autocommit) to PostgreSQL with an empty ``products`` table."""
    schema = os.environ.get(SCHEMA_ENV, "unique")
    if schema not in SCHEMAS:
        pytest.fail(f"{SCHEMA_ENV} must be one of {', '.join(SCHEMAS)}, not {schema!r}", pytrace=False)
    conn = psycopg2.connect(products_postgres, connect_timeout=5)
    # Autocommit: after a refused INSERT the connection is still usable, no rollback needed.
    conn.autocommit = True
    with conn.cursor() as cursor:
        # One PostgreSQL schema per variant, so the workshop can run both checks at the same time.
        namespace = f"exercise_{schema.replace('-', '_')}"
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {namespace}")
        cursor.execute(f"SET search_path TO {namespace}")
        cursor.execute("DROP TABLE IF EXISTS products")
        cursor.execute(SCHEMAS[schema])
    yield conn
    conn.close()

"""A SCHEMA MIGRATION, applied up and down against a real PostgreSQL.

Migrations are where mocks cannot follow: a mock has no schema to change. The migration below gives
every customer a unique e-mail address. Against a real database we can check three things a mock
never could: it applies, it rolls back to exactly the schema we started from, and it refuses to apply
to data that breaks its rule, leaving everything as it was (PostgreSQL runs DDL inside transactions).

Run them:   pytest tests/test_migration.py -v
"""

import uuid

import psycopg2
import psycopg2.errors
import pytest

BEFORE = "CREATE TABLE customers (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL)"

UP = """
ALTER TABLE customers ADD COLUMN email TEXT;
UPDATE customers SET email = lower(name) || '@example.com';
ALTER TABLE customers ALTER COLUMN email SET NOT NULL;
ALTER TABLE customers ADD CONSTRAINT customers_email_unique UNIQUE (email);
"""

DOWN = """
ALTER TABLE customers DROP CONSTRAINT customers_email_unique;
ALTER TABLE customers DROP COLUMN email;
"""


@pytest.fixture
def db(postgres_url):
    """A connection to the real PostgreSQL, inside a schema of its own that disappears afterwards."""
    schema = f"migration_{uuid.uuid4().hex[:8]}"
    conn = psycopg2.connect(postgres_url)
    with conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {schema}")
        cursor.execute(f"SET search_path TO {schema}")
        cursor.execute(BEFORE)
    yield conn
    conn.rollback()
    with conn, conn.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def migrate(db, sql):
    """Apply a migration in one transaction: all of it, or (on any error) none of it."""
    with db, db.cursor() as cursor:
        cursor.execute(sql)


def columns(db):
    with db.cursor() as cursor:
        cursor.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                       "WHERE table_schema = current_schema() AND table_name = 'customers' ORDER BY column_name")
        return cursor.fetchall()


def add_customer(db, name, email=None):
    with db, db.cursor() as cursor:
        if email is None:
            cursor.execute("INSERT INTO customers (name) VALUES (%s)", (name,))
        else:
            cursor.execute("INSERT INTO customers (name, email) VALUES (%s, %s)", (name, email))


def test_up_adds_a_unique_email_that_postgres_enforces(db):
    """After `up`, existing rows have an e-mail, and PostgreSQL refuses a duplicate one."""
    add_customer(db, "Ada")

    migrate(db, UP)

    assert ("email", "text", "NO") in columns(db)
    with pytest.raises(psycopg2.errors.UniqueViolation):
        add_customer(db, "Another Ada", email="ada@example.com")


def test_down_restores_exactly_the_schema_we_started_from(db):
    """`up` then `down` is a round trip: same columns, same types, same rules as before."""
    before = columns(db)

    migrate(db, UP)
    migrate(db, DOWN)

    assert columns(db) == before


def test_up_refuses_data_that_breaks_its_rule_and_changes_nothing(db):
    """Two customers called 'Bob' would get the same e-mail: the whole migration is rolled back."""
    add_customer(db, "Bob")
    add_customer(db, "bob")
    before = columns(db)

    with pytest.raises(psycopg2.errors.UniqueViolation):
        migrate(db, UP)

    assert columns(db) == before  # no half-applied migration: the email column was never added

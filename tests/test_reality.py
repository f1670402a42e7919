"""REALITY: the same vote store, against a real PostgreSQL started by Testcontainers.

The ``votes`` fixture (see conftest.py) is the application's own vote store connected to a real
PostgreSQL 15 container, with an empty table for every test. The table has a UNIQUE constraint on the
voter, so the database itself refuses a second vote from the same phone. These tests see that; the
fantasy tests never could.

Run them:   pytest tests/test_reality.py -v
"""

import psycopg2.errors
import pytest

from reality.votes import AlreadyVoted


def test_a_vote_is_stored_in_postgres(votes):
    """A vote becomes a row in a real table."""
    votes.cast("phone-1", "Python")

    assert votes.counts() == {"Python": 1}


def test_second_vote_from_same_phone_is_refused(votes):
    """The bug the mocks missed: PostgreSQL's UNIQUE constraint refuses the second vote."""
    votes.cast("phone-1", "Python")

    with pytest.raises(AlreadyVoted) as refused:
        votes.cast("phone-1", "Rust")

    # Not our code saying no: PostgreSQL's own UniqueViolation is the cause.
    assert isinstance(refused.value.__cause__, psycopg2.errors.UniqueViolation)


def test_repeated_duplicates_all_fail_and_leave_one_row(votes):
    """Cheating 10 times in a row: every attempt fails, one vote remains."""
    votes.cast("phone-1", "Go")

    refusals = 0
    for _ in range(10):
        with pytest.raises(AlreadyVoted):
            votes.cast("phone-1", "Go")
        refusals += 1

    assert refusals == 10
    assert votes.total() == 1


def test_different_phones_are_all_counted(votes):
    """The constraint stops duplicates, not people: every phone gets its one vote."""
    for phone, choice in [("phone-1", "Python"), ("phone-2", "Python"), ("phone-3", "Rust")]:
        votes.cast(phone, choice)

    assert votes.counts() == {"Python": 2, "Rust": 1}
    assert votes.total() == 3

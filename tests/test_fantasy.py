"""FANTASY: tests against a mock vote store. All green, all wrong.

The store these tests use is an in-memory stand-in with no constraints, the kind of mock that makes
tests fast and easy. Every test here passes, and the duplicate-vote bug is still in the app: nothing
here ever meets the UNIQUE constraint that only the real database has.

Run them:   pytest tests/test_fantasy.py -v
Then run:   pytest tests/test_reality.py -v   (same app, real PostgreSQL)
"""

from reality.votes import InMemoryVoteStore


def test_vote_is_saved():
    """Passes. The lie: 'saved' means appended to a Python list, not stored in a table with rules."""
    store = InMemoryVoteStore()

    store.cast("phone-1", "Python")

    assert store.counts() == {"Python": 1}


def test_voting_twice_does_not_crash():
    """Passes. The lie: no error means 'fine' here, but a real database refuses the second vote."""
    store = InMemoryVoteStore()

    store.cast("phone-1", "Python")
    store.cast("phone-1", "Python")  # the same phone again: the mock shrugs

    assert store.total() == 2  # two votes from one phone, and the test is green


def test_tally_counts_every_vote():
    """Passes. The lie: one phone voting 100 times counts as 100 people, and the test celebrates."""
    store = InMemoryVoteStore()

    for _ in range(100):
        store.cast("phone-1", "JavaScript")

    assert store.counts()["JavaScript"] == 100

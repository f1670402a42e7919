"""A RACE: one phone, 20 votes, all at the same instant.

Double-tapping a button, a flaky network retrying, a script: the same vote can arrive many times at
once. Application code that checks "has this phone voted?" before inserting loses that race: all 20
requests check, all 20 see "no", all 20 insert. Only the database can settle it, because its UNIQUE
constraint is checked inside the database, one row at a time.

Run them:   pytest tests/test_race.py -v
"""

import threading

from reality.votes import AlreadyVoted, InMemoryVoteStore

PHONES_AT_ONCE = 20


def vote_all_at_once(store, voter_id, times=PHONES_AT_ONCE):
    """Cast the same vote from `times` threads released at the same instant; return how many were refused."""
    start_line = threading.Barrier(times)
    refused = []

    def vote():
        start_line.wait()  # every thread waits here, then all go together
        try:
            store.cast(voter_id, "Python")
        except AlreadyVoted:
            refused.append(voter_id)

    threads = [threading.Thread(target=vote) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(refused)


def test_mock_accepts_all_20_votes_from_one_phone():
    """FANTASY: the mock takes all 20. Green test, and one phone now counts as twenty people."""
    store = InMemoryVoteStore()

    refused = vote_all_at_once(store, "phone-1")

    assert refused == 0
    assert store.total() == PHONES_AT_ONCE


def test_postgres_keeps_exactly_one_of_20_simultaneous_votes(votes):
    """REALITY: PostgreSQL stores exactly one vote and refuses the 19 others, however they interleave."""
    refused = vote_all_at_once(votes, "phone-1")

    assert votes.total() == 1
    assert refused == PHONES_AT_ONCE - 1

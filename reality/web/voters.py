"""A phone's voter identity: a random id in the signed session cookie, and the client's address."""

from __future__ import annotations

import re
import secrets

from flask import request, session

from ..identities import address_key

VOTER_KEY = "voter"
_VOTER_FORM = re.compile(r"[0-9a-f]{32}")


def valid_voter(value: object) -> str | None:
    """``value`` when it is exactly what :func:`new_voter` issues, else None.

    Anything else (NUL characters, other text in a cookie signed with a leaked key) is no identity,
    so a 403, never a database error.
    """
    return value if isinstance(value, str) and _VOTER_FORM.fullmatch(value) else None


def new_voter() -> str:
    """A new voter identity: 128 random bits, as hex."""
    return secrets.token_hex(16)


def voter_id() -> str | None:
    """This browser's voter identity, or None."""
    return valid_voter(session.get(VOTER_KEY))


def issue_voter() -> str:
    """Give this browser a new voter identity: a random id in the signed session cookie."""
    voter = new_voter()
    session[VOTER_KEY] = voter
    session.permanent = True  # a phone that closes its browser is still the same voter
    return voter


def client_address() -> str:
    """The budget's key for this client: its address (from the proxy when BEHIND_PROXY, see create_app)."""
    return address_key(request.remote_addr)

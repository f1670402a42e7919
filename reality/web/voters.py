"""A phone's voter identity: a random id in the signed session cookie, and the client's address."""

from __future__ import annotations

import re
import secrets

from flask import request, session

from ..identities import address_key

VOTER_KEY = "voter"
_VOTER_FORM = re.compile(r"[0-9a-f]{32}")


def voter_id() -> str | None:
    """This browser's voter identity, or None."""
    voter = session.get(VOTER_KEY)
    # Exactly what issue_voter issues: anything else (NUL characters, other text in a cookie signed
    # with a leaked key) is no identity, so a 403, never a database error.
    return voter if isinstance(voter, str) and _VOTER_FORM.fullmatch(voter) else None


def issue_voter() -> str:
    """Give this browser a new voter identity: a random id in the signed session cookie."""
    voter = secrets.token_hex(16)
    session[VOTER_KEY] = voter
    session.permanent = True  # a phone that closes its browser is still the same voter
    return voter


def client_address() -> str:
    """The budget's key for this client: its address (from the proxy when BEHIND_PROXY, see create_app)."""
    return address_key(request.remote_addr)

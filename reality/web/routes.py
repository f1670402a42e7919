"""HTTP: the blueprints of the show's web app, and where each lives.

- :mod:`.pages` (``show``): the audience screen, the presenter's console and login, the phone page;
- :mod:`.vote_api` (``votes``): casting a vote and reading one's own;
- :mod:`.read_api` (``read``): results, health, feed, scene, tests, the OpenAPI document;
- :mod:`.presenter_api` (``presenter_api``): the presenter's actions, behind one guard;
- :mod:`.api`: JSON errors, error handlers and security headers for all of them.
"""

from __future__ import annotations

from flask import Flask

from . import api, pages, presenter_api, read_api, vote_api


def register(app: Flask) -> None:
    """Register every blueprint, the error handlers and the headers on ``app``."""
    for blueprint in (pages.bp, vote_api.bp, read_api.bp, presenter_api.bp):
        app.register_blueprint(blueprint)
    api.init_app(app)

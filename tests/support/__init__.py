"""What the tests share besides fixtures (those are in ``tests/conftest.py``), one concern a module.

- :mod:`support.paths`: the repository's root and the artifacts folder.
- :mod:`support.waiting`: :func:`~support.waiting.wait_for`, the one bounded poll (never a bare sleep).
- :mod:`support.docker`: the Docker engine, the test session's containers, containers a process left.
- :mod:`support.app`: the show's app in this process (Flask's and Flask-SocketIO's test clients).
- :mod:`support.show`: a real ``reality_engine.py`` process, its phones and its presenter.
- :mod:`support.hostile`: attacking a show of one's own (raw sockets, floods, its terminal's new lines);
  :mod:`support.flood` the floods themselves (light enough for a spawned attacker process).
- :mod:`support.terminal`: a real terminal (tmux) to see screens as a person would; tools a test needs.
- :mod:`support.workshop`: the workshop run in this process with scripted keys, its transcript and containers.
- :mod:`support.browser`: Chromium through Playwright (contexts handed from test to test) and what tests
  read on its screens; :mod:`support.stage`: the show's app over real HTTP in this process, for the browser.

Tests import product code they only set up through here where they can, so that a moved module is
fixed in one place.
"""

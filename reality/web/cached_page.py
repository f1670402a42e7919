"""A page rendered by Jinja once per variant; only its JSON state block is made per request.

    body = render_with_state("phone.html", page_state, vary=(voting_open, live), poll=poll)

The phone page (``/qr``) is the first request of every phone in the room, and its HTML differs from
phone to phone only in the ``<script type="application/json" id="page-state">`` block (the tally,
this phone's own vote); Jinja rendering it was about 0.2 ms of CPU per phone. So the template is
rendered once per ``vary`` key (what the HTML depends on besides the state: whether voting is open,
whether the live client is installed) and the poll, and split around that block; each request joins
the two halves with the state serialized by the template environment's own ``tojson`` filter,
so the page is byte for byte what ``render_template`` gives (``tests/test_hot_path.py`` checks it).
The session cookie is not part of the page: each phone still gets its own, in the answer's headers.

When the state's JSON is not found exactly once in the rendered page, or templates auto-reload
(debug), every request is rendered by Jinja as before.
"""

from __future__ import annotations

from typing import Any, Hashable

from flask import Flask, current_app, render_template, request
from jinja2.nodes import EvalContext

_CACHE = "reality.cached_pages"


def _key(template: str, vary: Hashable, script_root: str, context: dict[str, Any]) -> Hashable:
    # What the HTML can depend on besides the state: the variant, the context's values (the poll), and
    # the URL prefix that url_for puts before the static files.
    return (template, vary, script_root, tuple((name, repr(value)) for name, value in sorted(context.items())))


def state_json(app: Flask, page_state: dict[str, Any]) -> str:
    """The page state as the template's ``tojson`` filter writes it."""
    environment = app.jinja_env
    return str(environment.filters["tojson"](EvalContext(environment), page_state))


def render_with_state(template: str, page_state: dict[str, Any], vary: Hashable, **context: Any) -> str:
    """``render_template(template, page_state=page_state, **context)``, from a cached split when possible."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.jinja_env.auto_reload:
        return render_template(template, page_state=page_state, **context)
    cache: dict[Hashable, tuple[str, str] | None] = app.extensions.setdefault(_CACHE, {})
    key = _key(template, vary, request.script_root, context)
    if key not in cache:
        page = render_template(template, page_state=page_state, **context)
        halves = page.split(state_json(app, page_state))
        cache[key] = (halves[0], halves[1]) if len(halves) == 2 else None
        return page
    halves = cache[key]
    if halves is None:
        return render_template(template, page_state=page_state, **context)
    return halves[0] + state_json(app, page_state) + halves[1]


def cached_halves(app: Flask, template: str, vary: Hashable, script_root: str,
                  **context: Any) -> tuple[str, str] | None:
    """The page's two halves around its state, once :func:`render_with_state` has rendered this variant."""
    if app.jinja_env.auto_reload:
        return None
    return app.extensions.get(_CACHE, {}).get(_key(template, vary, script_root, context))

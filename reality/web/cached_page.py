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

from flask import current_app, render_template, request
from jinja2.nodes import EvalContext

_CACHE = "reality.cached_pages"


def render_with_state(template: str, page_state: dict[str, Any], vary: Hashable, **context: Any) -> str:
    """``render_template(template, page_state=page_state, **context)``, from a cached split when possible."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.jinja_env.auto_reload:
        return render_template(template, page_state=page_state, **context)
    cache: dict[Hashable, tuple[str, str] | None] = app.extensions.setdefault(_CACHE, {})
    # What the HTML can depend on besides the state: the variant, the context's values (the poll), and
    # the URL prefix that url_for puts before the static files.
    key = (template, vary, request.script_root, tuple((name, repr(value)) for name, value in sorted(context.items())))
    environment = app.jinja_env
    tojson = environment.filters["tojson"]
    eval_context = EvalContext(environment)
    if key not in cache:
        page = render_template(template, page_state=page_state, **context)
        state = str(tojson(eval_context, page_state))
        halves = page.split(state)
        cache[key] = (halves[0], halves[1]) if len(halves) == 2 else None
        return page
    halves = cache[key]
    if halves is None:
        return render_template(template, page_state=page_state, **context)
    return halves[0] + str(tojson(eval_context, page_state)) + halves[1]

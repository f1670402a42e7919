"""The examples in the docstrings run, so they stay true (``reality/``, ``tests/support/``, ``bench/``).

Modules are found by their text (a ``>>>`` line that is not skipped), not by importing the whole
package at collection: a module is imported by its own test only, so collecting the suite loads
nothing heavy (Docker, gevent, a browser) and a module moved to another folder is still found.
"""

from __future__ import annotations

import doctest
import importlib
import re
from pathlib import Path

import pytest

from support.paths import ROOT

#: Where modules with examples live, and the package name each folder stands for.
SOURCES = {ROOT / "reality": "reality", ROOT / "tests" / "support": "support", ROOT / "bench": "bench"}
#: A ``>>>`` line whose example runs (one marked ``doctest: +SKIP`` needs Docker or a terminal).
RUNNABLE = re.compile(r"^\s*>>> (?!.*doctest: \+SKIP)", re.MULTILINE)


def modules_with_examples() -> list[str]:
    found = []
    for folder, package in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            if RUNNABLE.search(path.read_text(encoding="utf-8")):
                parts = path.relative_to(folder).with_suffix("").parts
                found.append(".".join((package, *parts)).removesuffix(".__init__"))
    return found


MODULES = modules_with_examples()


def test_the_modules_named_in_the_docs_have_examples():
    # The finder itself: these modules' examples are the ones the README and the issue point to.
    for name in ("reality.events", "reality.votes", "reality.poll", "reality.ratelimit", "reality.vocabulary"):
        assert name in MODULES, f"{name} has no runnable example any more"


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_in_the_docstrings_hold(name):
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"{name}: no example ran"
    assert results.failed == 0, "".join(report)

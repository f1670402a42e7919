"""Diagnose and repair a broken virtualenv: the usual Codespaces breakage.

After a Codespace is rebuilt (or a Python upgraded), ``.venv/bin/python`` can lead (through
``python3``) to an interpreter that no longer exists, and every script in ``.venv/bin`` fails with
``cannot execute: required file not found``. Or pip (the module, or its ``pip`` scripts) went missing,
or the virtualenv was moved. Either way the cure is the same: recreate the virtualenv with the ``venv``
module and reinstall the requirements. A virtualenv that is sound but lacks the required packages is
broken too (the entry scripts refuse to run in it): the requirements are installed into it.

    >>> diagnosis = diagnose(Path(".venv"))                      # doctest: +SKIP
    >>> diagnosis.healthy, diagnosis.problems                    # doctest: +SKIP
    (False, ['.venv/bin/python points to /usr/local/python/3.11.4/bin/python3 (via python3), which no longer exists ...'])

A little over 300 lines: the checks run in the broken interpreter itself, so each is a
self-contained function with no help from the rest of the package.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .errors import RealityError
from .machine_setup import externally_managed, read_pins
from .pip_venv import bundled_pip_wheel, create_with_pip

Log = Callable[[str], None]


@dataclass
class Diagnosis:
    """What is wrong with a virtualenv (nothing, when ``problems`` is empty)."""

    path: Path
    exists: bool
    is_venv: bool
    problems: list[str] = field(default_factory=list)
    version: str | None = None  # "Python 3.11.7", when the interpreter starts
    pip: str | None = None      # "pip 23.2.1", when pip works
    #: What is wrong with the required packages (checked whenever the interpreter starts).
    package_problems: list[str] = field(default_factory=list)
    packages_checked: int = 0

    @property
    def healthy(self) -> bool:
        return self.exists and self.is_venv and not self.problems and not self.package_problems

    @property
    def all_problems(self) -> list[str]:
        return [*self.problems, *self.package_problems]


def venv_python(path: Path) -> Path:
    """The interpreter inside a virtualenv."""
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(command: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def link_chain(path: Path) -> list[Path]:
    """``path`` and every file its symlinks lead to, in order (``bin/python`` → ``bin/python3`` → ``/usr/...``).

    The last entry is where the chain ends: a real file, a missing one, or a file seen before (a loop).
    """
    chain = [path]
    while chain[-1].is_symlink() and chain[-1] not in chain[:-1]:
        # A relative link is relative to the folder the link is in (python -> python3).
        chain.append(Path(os.path.normpath(chain[-1].parent / os.readlink(chain[-1]))))
    return chain


def diagnose(path: Path, requirements: Path | None = None) -> Diagnosis:
    """Look at the virtualenv at ``path`` without changing anything.

    With ``requirements``, a sound virtualenv is also checked for each pinned package (installed at its
    version, and importing): a virtualenv without them cannot run the kit.
    """
    if not path.exists():
        return Diagnosis(path, False, False, [f"there is no virtualenv at {path}"])
    if not (path / "pyvenv.cfg").is_file():
        return Diagnosis(path, True, False, [f"{path} is not a virtualenv (no pyvenv.cfg)"])
    diagnosis = Diagnosis(path, True, True)
    python = venv_python(path)
    if python.is_symlink() and not python.exists():
        # The classic: bash says "required file not found" when running anything in .venv/bin. A venv's
        # bin/python is python -> python3 -> /abs/interpreter: name the file that is really missing.
        chain = link_chain(python)
        hops = [hop.name if hop.parent == python.parent else str(hop) for hop in chain]
        if chain[-1] in chain[:-1]:
            diagnosis.problems.append(f"{python} is a loop of symlinks ({' -> '.join(hops)})")
            return diagnosis
        via = f" (via {', '.join(hops[1:-1])})" if len(hops) > 2 else ""
        diagnosis.problems.append(f"{python} points to {chain[-1]}{via}, which no longer exists "
                                  "(this is the 'required file not found' error)")
        return diagnosis
    if not python.exists():
        diagnosis.problems.append(f"{python} is missing")
        return diagnosis
    try:
        started = _run([str(python), "-c", _INTERPRETER_CHECK])
    except (OSError, subprocess.TimeoutExpired) as exc:
        diagnosis.problems.append(f"{python} does not start: {exc}")
        return diagnosis
    try:
        found = json.loads(_last_line(started.stdout)) if started.returncode == 0 else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        diagnosis.problems.append(f"{python} does not start: {_last_line(started.stderr) or 'no error text'}")
        return diagnosis
    diagnosis.version = f"Python {found['python']}"
    if found.get("pip_problem"):
        diagnosis.problems.append(f"pip is missing ({found['pip_problem']})")
    else:
        diagnosis.pip = f"pip {found['pip']}"
        # `pip install …` runs the bin/pip script, not the module: deleted scripts break it all the same.
        gone = [name for name in ("pip", "pip3") if not (path / "bin" / name).exists()]
        if gone and os.name != "nt":
            diagnosis.problems.append(f"{path / 'bin'} has no {' or '.join(gone)} script "
                                      "(deleted: the pip command fails)")
    # Scripts carry their interpreter's absolute path: a moved or renamed venv breaks all of them.
    script = path / "bin" / "pip"
    if script.is_file():
        shebang = script.read_bytes()[:300].split(b"\n", 1)[0].decode(errors="replace")
        interpreter = shebang[2:].strip().split()[0] if shebang.startswith("#!") and shebang[2:].strip() else ""
        if interpreter and not Path(interpreter).exists():
            diagnosis.problems.append(f"{script} starts with #!{interpreter}, which does not exist "
                                      "(the virtualenv was moved or its Python removed)")
    if requirements is not None:  # the interpreter starts: whatever else is wrong, are the packages there?
        diagnosis.packages_checked, diagnosis.package_problems = requirement_problems(str(python), requirements)
    return diagnosis


@dataclass(frozen=True)
class Target:
    """Where this project's packages live: a virtualenv, or (``venv`` is ``None``) this Python itself."""

    venv: Path | None
    why: str
    named: bool = False  # chosen by --venv or $VIRTUAL_ENV, so a repair command must name it again


#: Virtualenv folders looked for in the checkout: setup.py's, and the original kit's.
CHECKOUT_VENVS = (".venv", "venv")


def choose_target(given: Path | None, virtual_env: str | None, repo: Path, prefix: str = sys.prefix,
                  base_prefix: str = sys.base_prefix, managed: bool | None = None) -> Target:
    """The first of :func:`choose_targets`; ``Target(None, …)`` when no virtualenv is in use."""
    targets = choose_targets(given, virtual_env, repo, prefix, base_prefix, managed)
    return targets[0] if targets else Target(None, "no virtualenv in use: setup.py installs the packages into "
                                                   "this Python")


def choose_targets(given: Path | None, virtual_env: str | None, repo: Path, prefix: str = sys.prefix,
                   base_prefix: str = sys.base_prefix, managed: bool | None = None) -> list[Target]:
    """The virtualenvs to look at, decided the way ``setup.py`` decides where to install.

    ``setup.py`` installs into the active virtualenv, into ``--venv DIR``, into ``.venv`` where the OS
    manages its Python (PEP 668), and otherwise into the interpreter itself, with no virtualenv at all.
    Besides the one in use, every ``.venv`` or ``venv`` folder of the checkout is looked at, active or
    not: a broken one there is what a participant (or the original kit's instructions) will use next.
    An empty list: no virtualenv anywhere, the packages belong in this Python.
    """
    if given is not None:
        return [Target(given.absolute(), "given with --venv", named=True)]
    targets = []
    if virtual_env:
        targets.append(Target(Path(virtual_env).absolute(), "the active virtualenv ($VIRTUAL_ENV)", named=True))
    elif prefix != base_prefix:
        targets.append(Target(Path(prefix), "the virtualenv this Python runs from", named=True))
    for name in CHECKOUT_VENVS:
        folder = repo / name
        if (folder.exists() or folder.is_symlink()) and not any(_same(folder, t.venv) for t in targets):
            targets.append(Target(folder, f"{name} in the repository"))
    if not targets and (externally_managed() if managed is None else managed):
        targets.append(Target(repo / ".venv", "this Python is managed by the OS (PEP 668), so setup.py installs "
                                              "into .venv"))
    return targets


def _same(one: Path, other: Path | None) -> bool:
    try:
        return other is not None and one.resolve() == other.resolve()
    except OSError:
        return False


# Runs inside the interpreter being checked (standard library only; it may be another Python version).
# The interpreter's version, and pip's: its package, and the modules `python -m pip` runs first, found
# where `python -m pip` looks for them. Starting pip (`pip --version`) would import ~150 modules of its
# command line, 0.6 s of compiling them where PYTHONDONTWRITEBYTECODE is set, at every check. A pip
# damaged deeper inside (one of its vendored packages deleted) shows when it runs: the repair's install
# then fails with pip's own error, and `fix_venv.py --force` recreates the virtualenv.
_INTERPRETER_CHECK = r"""
import importlib.util, json, sys
found = {"python": sys.version.split()[0]}
try:
    import pip
    for module in ("pip.__main__", "pip._internal.cli.main"):
        if importlib.util.find_spec(module) is None:
            raise ImportError(f"No module named {module!r}")
    found["pip"] = pip.__version__
except Exception as exc:
    found["pip_problem"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
print()  # the verdict on a line of its own, whatever an import printed
print(json.dumps(found))
"""


# Imports may print: the verdict is the last line of stdout.
_REQUIREMENTS_CHECK = r"""
import importlib, importlib.metadata as metadata, json, re, sys
pins, requirements = json.loads(sys.argv[1]), sys.argv[2]
normal = lambda name: re.sub(r"[-_.]+", "-", name).lower()
modules = {}
for module, distributions in metadata.packages_distributions().items():
    for distribution in distributions:
        modules.setdefault(normal(distribution), []).append(module)
problems = []
for name, version in pins.items():
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        problems.append(f"{name}=={version} is not installed")
        continue
    if installed != version:
        problems.append(f"{name} {installed} is installed, {requirements} pins {version}")
    public = [m for m in modules.get(normal(name), []) if m.isidentifier() and not m.startswith("_")]
    for module in [m for m in public if normal(m) == normal(name)] or public:
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:
            problems.append(f"{module} ({name}) does not import: {type(exc).__name__}: {exc}".splitlines()[0])
print()
print(json.dumps(problems))
"""


def requirement_problems(python: str, requirements: Path) -> tuple[int, list[str]]:
    """Each pinned package of ``requirements``, checked in ``python``: installed at its version, and importing.

    Returns how many packages were checked and what is wrong with them.
    """
    if not requirements.is_file():
        raise RealityError(f"No requirements file at {requirements}.")
    pins = read_pins(requirements)
    try:
        result = _run([python, "-c", _REQUIREMENTS_CHECK, json.dumps(pins), requirements.name], timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return len(pins), [f"{python} could not check the packages: {exc}"]
    try:
        problems = json.loads(_last_line(result.stdout))
    except ValueError:
        return len(pins), [f"{python} could not check the packages: {_last_line(result.stderr) or 'no output'}"]
    return len(pins), problems


def fix_command(*options: str | Path, script: str = "fix_venv.py") -> str:
    """``python3 fix_venv.py`` with ``options``, quoted so that it can be typed as shown."""
    return shlex.join(["python3", script, *map(str, options)])


def running_inside(path: Path) -> bool:
    """True when this very interpreter belongs to the virtualenv at ``path``."""
    try:
        return Path(sys.prefix).resolve() == path.resolve()
    except OSError:
        return False


def base_python() -> str:
    """The interpreter this one was created from (outside any virtualenv)."""
    base = getattr(sys, "_base_executable", "") or ""
    if base and Path(base).exists() and not running_inside(Path(base).parent.parent):
        return base
    for name in (f"python{sys.version_info.major}.{sys.version_info.minor}", "python3"):
        candidate = Path(sys.base_prefix) / "bin" / name
        if candidate.exists():
            return str(candidate)
    raise RealityError("Cannot find a Python outside the virtualenv: run `python3 fix_venv.py` with the system Python.")


def recreate(path: Path, log: Log) -> None:
    """Create a fresh virtualenv with pip at ``path`` (its old content is removed)."""
    if path.exists() and not (path / "pyvenv.cfg").is_file() and any(path.iterdir()):
        # Never delete a folder we cannot recognise as a virtualenv: it may be someone's work.
        raise RealityError(f"{path} exists and is not a virtualenv: not touching it. "
                           "Use --venv to choose another path.")
    log(f"Creating a fresh virtualenv at {path} with Python {sys.version.split()[0]} ({sys.executable})")
    create_with_pip(path, clear=True, symlinks=os.name != "nt", wheel=bundled_pip_wheel())


def install_requirements(path: Path, requirements: Path, log: Log) -> None:
    """``pip install -r requirements`` inside the virtualenv."""
    if not requirements.is_file():
        raise RealityError(f"No requirements file at {requirements}.")
    wanted = [line for line in requirements.read_text().splitlines()
              if line.strip() and not line.lstrip().startswith(("#", "-"))]  # packages, not options
    log(f"Installing {len(wanted)} package{'s' if len(wanted) != 1 else ''} from {requirements.name}"
        + (" (this can take a minute)" if len(wanted) > 3 else ""))
    result = subprocess.run([str(venv_python(path)), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                             "-r", str(requirements)], capture_output=True, text=True)
    if result.returncode != 0:
        reason = _last_line(result.stderr) or _last_line(result.stdout)
        raise RealityError(f"pip could not install {requirements.name}: {reason}")


def repair(path: Path, requirements: Path, force: bool = False, log: Log = print,
           before: Diagnosis | None = None) -> tuple[Diagnosis, Diagnosis | None]:
    """Make the virtualenv at ``path`` run the kit: recreate it when it is broken (or ``force``), and
    (re)install ``requirements``; a sound one that only lacks packages just gets them installed.

    ``before``: ``diagnose(path, requirements)`` when the caller has just made it (it imports every
    package of the kit: seconds, not to be done twice). Returns the diagnosis before, and after (``None``
    when nothing needed doing).
    """
    if before is None:
        before = diagnose(path, requirements)
    if before.healthy and not force:
        return before, None
    if before.exists and not before.is_venv and any(path.iterdir()):
        raise RealityError(f"{path} exists and is not a virtualenv: not touching it. "
                           "Use --venv to choose another path.")
    if before.exists and before.is_venv and not before.problems and not force:
        install_requirements(path, requirements, log)  # sound, only packages missing: nothing to recreate
    else:
        if running_inside(path):
            raise RealityError("This Python runs from the virtualenv being repaired: "
                               f"run `deactivate`, then `{fix_command('--venv', path)}`.")
        recreate(path, log)  # refuses, before anything is deleted, a folder that is not a virtualenv
        install_requirements(path, requirements, log)
    after = diagnose(path, requirements)
    if not after.healthy:
        raise RealityError(f"The virtualenv is still broken: {after.all_problems[0]}")
    return before, after

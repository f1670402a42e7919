"""One-time set-up of a machine for the workshop: Python packages, a Docker engine, the images.

Each step is idempotent (what is there is skipped) and reports one :class:`Step` for the closing
summary. ``setup.py`` at the top of the repository is the thin entry script.

A little over 300 lines: one function per step of set-up, in the order they run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .pip_venv import bundled_pip_wheel, create_with_pip
from .project_venv import in_virtualenv
from .config import CHECKOUT as ROOT  # the repository root, named once

if TYPE_CHECKING:  # rich is installed by this very module: import it only once it is there
    from rich.console import Console
    from rich.table import Table

REQUIREMENTS = ROOT / "requirements.txt"
MIN_PYTHON = (3, 10)

Ask = Callable[[str], bool]
Log = Callable[[str], None]


@dataclass
class Step:
    """The outcome of one set-up step, for the summary."""

    name: str
    ok: bool
    detail: str


def check_python(version: tuple[int, int] = sys.version_info[:2]) -> Step:
    if version < MIN_PYTHON:
        return Step("Python", False, f"Python {version[0]}.{version[1]} is too old: "
                                     "install Python 3.10 or newer (3.11 recommended).")
    return Step("Python", True, f"{version[0]}.{version[1]} ({sys.executable})")


def read_pins(path: Path = REQUIREMENTS) -> dict[str, str]:
    """``name -> version`` for every ``name==version`` line (extras dropped)."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.split("[", 1)[0].strip().lower()] = version.strip()
    return pins


def unmet_requirements(pins: dict[str, str]) -> list[str]:
    """Pinned packages that are missing or at another version in this interpreter."""
    unmet = []
    for name, version in pins.items():
        try:
            if metadata.version(name) != version:
                unmet.append(f"{name}=={version}")
        except metadata.PackageNotFoundError:
            unmet.append(f"{name}=={version}")
    return unmet


def externally_managed() -> bool:
    """True where pip refuses to install into this interpreter (PEP 668, e.g. Debian's own Python)."""
    return not in_virtualenv() and Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").exists()


def create_virtualenv(venv_dir: Path, log: Log) -> Path:
    """Create ``venv_dir`` if needed; returns its Python."""
    python = venv_dir / "bin" / "python"
    if not python.exists():
        log(f"Creating a virtualenv in {venv_dir}")
        create_with_pip(venv_dir, clear=venv_dir.exists(), wheel=bundled_pip_wheel())
    return python


def install_requirements(log: Log) -> Step:
    """Install ``requirements.txt`` into the running interpreter (a virtualenv when one is active)."""
    where = f"virtualenv {sys.prefix}" if in_virtualenv() else f"this Python ({sys.prefix})"
    unmet = unmet_requirements(read_pins())
    if not unmet:
        return Step("Python packages", True, f"already installed in {where}")
    log(f"Installing {len(unmet)} package(s) into {where}: {', '.join(unmet[:4])}" + (" ..." if len(unmet) > 4 else ""))
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                             "-r", str(REQUIREMENTS)], capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        return Step("Python packages", False, f"pip failed: {last}")
    return Step("Python packages", True, f"installed into {where}")


def compile_kit(folders: tuple[Path, ...] = (ROOT / "reality", ROOT / "tests" / "support")) -> Step:
    """Compile the kit's own modules to bytecode, once (pip does it for the installed packages).

    Every process the kit starts (the show, the workshop and its checks' pytest runs, the suite's
    shows) then loads them instead of compiling them again: 0.06-0.1 s of CPU each. Python writes
    them itself on first use, except where ``PYTHONDONTWRITEBYTECODE`` is set (as in many container
    images); compiling here writes them anyway. Only missing or outdated files are compiled. Test
    files are left to pytest, which compiles them its own way. Under ``sudo`` nothing is written:
    folders owned by root in someone's checkout would be in their way.
    """
    import compileall

    if os.geteuid() == 0 and os.environ.get("SUDO_USER"):
        return Step("Bytecode", True, "not compiled under sudo (Python compiles the modules on first use)")
    ok = all(compileall.compile_dir(folder, quiet=1) for folder in folders if folder.is_dir())
    if not ok:
        return Step("Bytecode", False, "some of the kit's modules do not compile: see the lines above")
    return Step("Bytecode", True, "the kit's modules are compiled")


def install_frontend(log: Log) -> Step:
    """``npm ci`` the dashboard's front-end dependencies (integrity-checked by package-lock.json)."""
    lock = ROOT / "package-lock.json"
    if not lock.exists():
        return Step("Front-end", True, "no front-end dependencies declared")
    stamp = ROOT / "node_modules" / ".reality-lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return Step("Front-end", True, "node_modules up to date")
    if not shutil.which("npm"):
        # Not fatal: without the Socket.IO client the pages poll once a second (and say so).
        return Step("Front-end", True, "npm not found, pages will poll instead of live websockets: "
                                       "install Node.js 18+ and rerun for live updates")
    log("Installing front-end dependencies (npm ci)")
    result = subprocess.run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["npm ci failed"])[-1]
        return Step("Front-end", False, f"npm ci failed: {last}")
    stamp.write_text(digest)
    return Step("Front-end", True, "installed with npm ci (versions and hashes from package-lock.json)")


def ensure_docker(log: Log, ask: Ask, install: bool) -> Step:
    """Make sure a Docker engine answers; install and start Debian's where allowed."""
    from . import docker_engine
    from .errors import DockerUnavailable

    if docker_engine.is_reachable():
        return Step("Docker", True, f"engine {docker_engine.connect().version().get('Version', '?')} reachable")
    if not docker_engine.can_install_engine() or not docker_engine.uses_local_engine():
        return Step("Docker", False, docker_engine.how_to_start_docker())
    if not shutil.which("dockerd"):
        if not (install or ask("No Docker engine here. Install Debian's docker.io now?")):
            return Step("Docker", False, "no engine: rerun with --install-docker (Debian/Ubuntu, as root)")
        log("Installing Docker engine (apt-get install docker.io)")
        try:
            docker_engine.install_engine()
        except subprocess.CalledProcessError as exc:
            return Step("Docker", False, f"apt-get failed ({exc.returncode}): check `apt-get install docker.io` by hand")
    log("Starting dockerd")
    try:
        docker_engine.start_engine()
    except DockerUnavailable as exc:
        return Step("Docker", False, str(exc))
    return Step("Docker", True, f"engine {docker_engine.connect().version().get('Version', '?')} started")


def provision_images(console: Console, load: Path | None = None, build: str = "auto") -> list[Step]:
    """Make the PostgreSQL and Redis images present: keep, load, pull, or build drop-ins.

    ``build`` is ``auto`` (build only when pulling fails), ``always`` or ``never``.
    """
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from . import docker_engine, provision
    from .config import OFFICIAL_IMAGES, SERVICES
    from .config import SERVICE_NAMES as NAMES
    from .errors import ImageMissing, RealityError

    client = docker_engine.connect()
    steps = []
    if load is not None:
        try:
            tags = provision.load_bundle(client, load)
            steps.append(Step("Image bundle", True, f"loaded {', '.join(tags) or 'nothing'} from {load}"))
        except RealityError as exc:
            steps.append(Step("Image bundle", False, str(exc)))
    wanted = {s: provision.resolve_image(client, s) for s in SERVICES}
    missing = [s for s, r in wanted.items() if not r.present]
    registry_ok = True
    if missing and build != "always":
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=console, transient=False) as progress:
            for service in list(missing):
                image = OFFICIAL_IMAGES[service]
                task = progress.add_task(f"pull {image}", total=None)
                try:
                    provision.pull(client, image, lambda done, total, t=task: progress.update(t, completed=done, total=total))
                    progress.update(task, description=f"pulled {image}")
                    missing.remove(service)
                except ImageMissing as exc:
                    progress.update(task, description=f"cannot pull {image}")
                    registry_ok = False
                    console.print(f"[yellow]{exc}[/yellow]")
                    break  # one failure is enough to know the registry is out of reach
    if missing and build != "never":
        console.print("No registry: building drop-in images from Debian's packages instead")
        try:
            provision.build_drop_in_images(client, log=lambda line: console.print(f"  {line}"))
        except (RealityError, subprocess.CalledProcessError, OSError) as exc:
            steps.append(Step("Images", False, f"could not build drop-in images: {provision.first_line(exc)}"))
            return steps
    for service in SERVICES:
        resolution = provision.resolve_image(client, service)
        steps.append(Step(f"{NAMES[service]} image", resolution.present, resolution.describe()))
    # Try Ryuk only where images come from a registry: an air-gapped rerun must not wait on DNS.
    uses_registry = any(provision.resolve_image(client, s).source == "official" for s in SERVICES)
    steps.append(reaper_step(client, try_pull=registry_ok and uses_registry))
    return steps


def reaper_step(client, try_pull: bool) -> Step:
    """Pull Testcontainers' reaper where a registry is reachable; otherwise say it will be disabled."""
    from . import provision
    from .errors import ImageMissing

    if provision.is_present(client, provision.RYUK_IMAGE):
        return Step("Ryuk reaper", True, f"{provision.RYUK_IMAGE} present")
    if try_pull:
        try:
            provision.pull(client, provision.RYUK_IMAGE)
            return Step("Ryuk reaper", True, f"pulled {provision.RYUK_IMAGE}")
        except ImageMissing:
            pass
    return Step("Ryuk reaper", True, "no image here: disabled; Reality Engine removes its own containers")


def install_browser(log: Log) -> Step:
    """Debian's Chromium and zbar, for the browser tests (Playwright cannot download its own here)."""
    from . import docker_engine

    wanted = {"/usr/bin/chromium": "chromium", "/usr/bin/zbarimg": "zbar-tools"}
    missing = [pkg for path, pkg in wanted.items() if not Path(path).exists()]
    fonts = Path("/usr/share/fonts/truetype/dejavu")
    if not fonts.exists():
        missing.append("fonts-dejavu-core")
    if not missing:
        return Step("Browser", True, "chromium and zbar present")
    if not docker_engine.can_install_engine():  # same condition: Debian/Ubuntu and root
        return Step("Browser", False, f"install {' '.join(missing)} with your package manager")
    log(f"Installing {' '.join(missing)} (apt)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], env=env, stdout=subprocess.DEVNULL, check=False)
    result = subprocess.run(["apt-get", "install", "-y", "-q", *missing], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        return Step("Browser", False, f"apt-get failed: {(result.stderr.strip().splitlines() or ['?'])[-1]}")
    return Step("Browser", True, f"installed {' '.join(missing)}")


def summary(steps: list[Step]) -> Table:
    from rich.table import Table

    table = Table(title="Reality Engine set-up", title_style="bold", show_header=False, expand=False)
    table.add_column("", width=2)
    table.add_column("What", style="bold")
    table.add_column("Status")
    for step in steps:
        table.add_row("[green]✓[/green]" if step.ok else "[red]✗[/red]", step.name, step.detail)
    return table


def save_images(path: Path) -> Step:
    """Write the images this machine would run (and Ryuk, when present) into one bundle."""
    from . import docker_engine, provision
    from .config import SERVICES
    from .errors import RealityError

    client = docker_engine.connect()
    images = [provision.resolve_image(client, service).image for service in SERVICES]
    if provision.is_present(client, provision.RYUK_IMAGE):
        images.append(provision.RYUK_IMAGE)
    try:
        provision.save_bundle(images, path)
    except (RealityError, subprocess.CalledProcessError, OSError) as exc:
        return Step("Image bundle", False, f"could not write {path}: {provision.first_line(exc)}")
    size = path.stat().st_size / 1e6
    return Step("Image bundle", True, f"{', '.join(images)} saved to {path} ({size:.0f} MB): "
                                      f"on each laptop, python3 setup.py --load {path}")


#: What to type after set-up, in order: the lesson (mocks, then reality), then the whole suite.
LESSON_COMMANDS = ("python3 -m pytest tests/test_fantasy.py -v", "python3 -m pytest tests/test_reality.py -v")
#: On every core (pytest-xdist); tests that share a module-wide show run on one worker (``xdist_group``).
SUITE_COMMAND = "python3 -m pytest -n auto --dist loadgroup -v"
SHOW_COMMAND = "python3 reality_engine.py"


def next_steps(activate: str | None, show_needs_activate: bool) -> list[tuple[str, str]]:
    """``(what, command)`` pairs that end set-up: each command is typed as shown, on a line of its own.

    ``activate`` is the ``source …/bin/activate`` line when the packages are in a virtualenv this shell
    has not activated (pytest needs it; the scripts find ``.venv`` by themselves).
    """
    steps = [("Run the show:", SHOW_COMMAND)]
    if activate and show_needs_activate:
        steps.insert(0, ("First, in each new terminal:", activate))
    elif activate:
        steps.append(("Before the tests, in each new terminal:", activate))
    steps.append(("The lesson, 1: tests against a mock (they pass, and are wrong):", LESSON_COMMANDS[0]))
    steps.append(("The lesson, 2: the same tests against real PostgreSQL:", LESSON_COMMANDS[1]))
    steps.append(("The whole suite (~600 tests, on every core, about 3 minutes):", SUITE_COMMAND))
    return steps


def print_next_steps(console: Console, steps: list[tuple[str, str]]) -> None:
    """Print each step's label, then its command alone on the next line, never wrapped (copy-paste safe)."""
    console.print("[green]Ready.[/green]")
    for what, command in steps:
        console.print(f"  {what}", style="dim", soft_wrap=True)
        # soft_wrap: a terminal narrower than the command wraps it itself, rich never breaks it in two.
        console.print(f"    {command}", style="bold", soft_wrap=True, markup=False, highlight=False)

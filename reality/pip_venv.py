"""A virtualenv with pip, made more cheaply than ensurepip makes it (set-up's ``.venv``, fix_venv's repair).

pip comes from the very wheel ensurepip would install, installed by pip itself; ensurepip is used
where this Python has no such wheel to hand.
"""

from __future__ import annotations

import subprocess
import sysconfig
import tempfile
import types
import venv
import zipfile
from pathlib import Path

from .errors import RealityError


def bundled_pip_wheel() -> Path | None:
    """The pip wheel ``ensurepip`` installs, or ``None`` where this Python has none to hand.

    ensurepip takes it from the folder this Python was built to share wheels from (``WHEEL_PKG_DIR``:
    Debian's /usr/share/python-wheels), else from its own ``_bundled`` folder; ``ensurepip.version()``
    (public) names the version. ensurepip's function that finds the file is private, hence this one.
    """
    try:
        import ensurepip  # some distributions leave it out of their Python, or in another package
        wanted = f"pip-{ensurepip.version()}-*.whl"
    except (ImportError, OSError, LookupError):
        return None
    for folder in (sysconfig.get_config_var("WHEEL_PKG_DIR"), Path(ensurepip.__file__).parent / "_bundled"):
        wheels = sorted(Path(folder).glob(wanted)) if folder else []
        if wheels:
            return wheels[0]
    return None


class _PipFromWheel(venv.EnvBuilder):
    """A virtualenv whose pip is installed from a wheel by pip itself, as ensurepip does, but pip alone
    and not byte-compiled.

    ensurepip byte-compiles the ~700 modules of pip and setuptools, and runs pip from the zipped wheel,
    where Python 3.11 compiles each module pip imports twice (zipimport). Here pip runs unpacked, and
    Python compiles the modules pip uses when it first runs, and keeps them (under
    PYTHONDONTWRITEBYTECODE it compiles them on each run: ~0.4 s). The virtualenv costs 1.4 s of CPU
    instead of 3.4 s here; a repair, its first pip runs included, 2.9 s instead of 4.7 s (3.3 s instead
    of 4.5 s under PYTHONDONTWRITEBYTECODE). setuptools is not needed: ensurepip no longer installs it
    from Python 3.12, and pip builds a source package with its own, in an isolated environment.
    """

    def __init__(self, wheel: Path, **options: bool) -> None:
        super().__init__(**options)
        self.wheel = wheel

    def post_setup(self, context: types.SimpleNamespace) -> None:  # venv's hook for installing packages
        with tempfile.TemporaryDirectory() as unpacked:
            try:
                zipfile.ZipFile(self.wheel).extractall(unpacked)
            except (OSError, zipfile.BadZipFile) as exc:
                raise RealityError(f"Cannot unpack {self.wheel} to install pip: {exc}") from exc
            # `python pip-*.whl/pip install pip-*.whl` is how pip runs from its wheel (pip/__main__.py).
            # Like ensurepip: -I and --isolated ignore PYTHON*/PIP_* settings and pip's config files
            # (PIP_USER=1 would break it); -B: the unpacked copy is thrown away, so are its .pyc;
            # --ignore-installed: that copy is on sys.path, pip would take it for pip installed.
            result = subprocess.run([context.env_exe, "-I", "-B", str(Path(unpacked) / "pip"), "install",
                                     "--isolated", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
                                     "--no-compile", "--ignore-installed", "-q", str(self.wheel)],
                                    capture_output=True, text=True)
        if result.returncode != 0:
            reason = (result.stderr.strip() or result.stdout.strip() or "no error text").splitlines()[-1]
            raise RealityError(f"pip could not be installed from {self.wheel}: {reason}")


def create_with_pip(path: Path, clear: bool = False, symlinks: bool = False, wheel: Path | None = None) -> None:
    """A virtualenv at ``path`` with pip, installed from ``wheel`` (see :func:`bundled_pip_wheel`), or by
    ensurepip when there is none. ``clear`` empties an existing ``path`` first."""
    if wheel is None:
        venv.EnvBuilder(clear=clear, symlinks=symlinks, with_pip=True).create(path)
    else:
        _PipFromWheel(wheel, clear=clear, symlinks=symlinks).create(path)

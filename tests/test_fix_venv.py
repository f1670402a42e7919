"""fix_venv.py: real virtualenvs, broken the way Codespaces breaks them, repaired for real.

The requirements installed here are a one-module wheel built by the test itself, installed by pip
with --no-index: the repair is exercised end to end with no network and in seconds.

Over 300 lines: each broken state is a real virtualenv the tests build and break (the wheel, the
templates and their relocated copies are made here, for these tests alone).
"""

from __future__ import annotations

import base64
import ensurepip
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reality import venv_repair
from reality.errors import RealityError
from reality.machine_setup import read_pins
from reality.pip_venv import bundled_pip_wheel, create_with_pip

from support.paths import ROOT as REPO


def build_wheel(folder: Path, name: str = "tinypkg", version: str = "1.0", code: bytes = b"VALUE = 42\n") -> Path:
    """``tinypkg-1.0-py3-none-any.whl``: one module, ``VALUE = 42``, with a correct RECORD."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": code,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    wheel_path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel_path, "w") as wheel:
        for path, data in files.items():
            wheel.writestr(path, data)
        wheel.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return wheel_path


@pytest.fixture
def requirements(tmp_path) -> Path:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    build_wheel(wheels)
    path = tmp_path / "requirements.txt"
    path.write_text(f"--no-index\n--find-links {wheels}\ntinypkg==1.0\n")
    return path


def fix_venv(*args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    return subprocess.run([sys.executable, "fix_venv.py", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={**env, "COLUMNS": "200"})


def imports_tinypkg(venv: Path) -> bool:
    result = subprocess.run([str(venv / "bin" / "python"), "-c", "import tinypkg; print(tinypkg.VALUE)"],
                            capture_output=True, text=True)
    return result.stdout.strip() == "42"


def test_interpreter_gone_is_found_and_repaired(tmp_path, requirements):
    """The Codespaces classic: .venv/bin/python points to a Python that no longer exists."""
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").symlink_to("/usr/local/python/3.11.4/bin/python3")  # gone after a rebuild

    check = fix_venv("--venv", str(venv), "--check")
    assert check.returncode == 1
    assert "required file not found" in check.stdout

    repair = fix_venv("--venv", str(venv), "--requirements", str(requirements))

    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert "Found" in repair.stdout and "Creating a fresh virtualenv" in repair.stdout
    assert "Installing 1 package from requirements.txt" in repair.stdout
    assert "✓ Repaired" in repair.stdout
    assert venv_repair.diagnose(venv).healthy
    assert imports_tinypkg(venv)
    assert fix_venv("--venv", str(venv), "--requirements", str(requirements), "--check").returncode == 0
    # Its pip is the one ensurepip has, installed from that wheel alone and not byte-compiled (ensurepip's
    # seconds of compiling, and setuptools, saved: Python compiles the modules pip uses when it runs).
    assert bundled_pip_wheel() is not None
    installed = sorted(info.name for info in site_packages(venv).glob("*.dist-info"))
    assert installed == [f"pip-{ensurepip.version()}.dist-info", "tinypkg-1.0.dist-info"]
    assert not [line for line in pip_record(venv) if ".pyc," in line]


def pip_record(venv: Path) -> list[str]:
    """What pip's installer wrote for pip itself in ``venv``: its RECORD lists the .pyc it compiled too."""
    return next(site_packages(venv).glob("pip-*.dist-info")).joinpath("RECORD").read_text().splitlines()


def test_a_wheel_of_pip_that_does_not_install_is_one_clear_error(tmp_path):
    garbage = tmp_path / "pip-0-py3-none-any.whl"
    garbage.write_bytes(b"not a zip file")
    not_pip = tmp_path / "pip-1-py3-none-any.whl"
    with zipfile.ZipFile(not_pip, "w") as wheel:
        wheel.writestr("hello.txt", "no pip in here")

    with pytest.raises(RealityError, match=f"^Cannot unpack {re.escape(str(garbage))} to install pip: "
                                           "File is not a zip file$"):
        create_with_pip(tmp_path / "one", wheel=garbage)
    with pytest.raises(RealityError, match=f"^pip could not be installed from {re.escape(str(not_pip))}: "
                                           ".*No such file"):
        create_with_pip(tmp_path / "two", wheel=not_pip)


def other_python_with_a_pip_wheel() -> str | None:
    """A Python of the distribution (Debian's /usr/bin/python3) that keeps ensurepip's wheels in its
    WHEEL_PKG_DIR (/usr/share/python-wheels) rather than in ensurepip's own folder."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None or Path(python).resolve() == Path(sys.executable).resolve():
        return None
    probe = subprocess.run([python, "-c", "import pathlib, sysconfig; folder = sysconfig.get_config_var("
                            "'WHEEL_PKG_DIR'); print(bool(folder and list(pathlib.Path(folder).glob('pip-*.whl'))))"],
                           capture_output=True, text=True)
    return python if probe.stdout.strip() == "True" else None


@pytest.mark.skipif(other_python_with_a_pip_wheel() is None,
                    reason="no Python here keeps its pip wheel in WHEEL_PKG_DIR")
def test_a_distributions_python_installs_pip_from_the_wheel_ensurepip_would_use(tmp_path):
    venv = tmp_path / "env"
    made = subprocess.run([other_python_with_a_pip_wheel(), "-c",
                           "import ensurepip, sys, sysconfig; from pathlib import Path; "
                           "from reality.pip_venv import bundled_pip_wheel, create_with_pip; "
                           "wheel = bundled_pip_wheel(); "
                           "print(wheel.parent, sysconfig.get_config_var('WHEEL_PKG_DIR'), ensurepip.version()); "
                           "create_with_pip(Path(sys.argv[1]), symlinks=True, wheel=wheel)",
                           str(venv)], cwd=REPO, capture_output=True, text=True, timeout=300)

    assert made.returncode == 0, made.stderr
    found_in, kept_in, version = made.stdout.split()
    assert Path(found_in) == Path(kept_in)
    pip = subprocess.run([str(venv / "bin" / "pip"), "--version"], capture_output=True, text=True)
    assert pip.stdout.startswith(f"pip {version} from {site_packages(venv)}/pip ")
    assert not [line for line in pip_record(venv) if ".pyc," in line]


def last_link(venv: Path) -> Path:
    """The symlink in ``bin/`` that leads out of the venv to the real interpreter.

    From a system Python that is ``python3`` (python -> python3 -> /usr/bin/python3.11); from a
    virtualenv's Python, ``python3.11`` (python -> python3.11 -> /usr/bin/python3.11).
    """
    inside = [hop for hop in venv_repair.link_chain(venv / "bin" / "python") if hop.parent == venv / "bin"]
    assert inside[-1].is_symlink() and os.path.isabs(os.readlink(inside[-1])), inside  # leads out of the venv
    return inside[-1]


def test_the_missing_file_named_is_the_interpreter_at_the_end_of_the_links(tmp_path):
    """A real venv's bin/python leads through links to /abs/python3: when the last one goes, name it."""
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    link = last_link(venv)
    chain = venv_repair.link_chain(venv / "bin" / "python")
    hops = [hop.name for hop in chain[1:chain.index(link) + 1]]  # python3, or python3.11 from a venv
    link.unlink()
    link.symlink_to("/usr/local/python/3.11.4/bin/python3")  # gone after an image update

    check = fix_venv("--venv", str(venv), "--check")

    assert check.returncode == 1
    via = f" (via {', '.join(hops)})" if hops else ""
    assert (f"{venv}/bin/python points to /usr/local/python/3.11.4/bin/python3{via}, "
            "which no longer exists") in check.stdout
    assert f"points to {link.name} " not in check.stdout


def test_a_loop_of_symlinks_is_named_as_such(tmp_path):
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    link = last_link(venv)
    chain = venv_repair.link_chain(venv / "bin" / "python")
    hops = [hop.name for hop in chain[:chain.index(link) + 1]]
    link.unlink()
    link.symlink_to("python")  # python -> ... -> python

    assert venv_repair.diagnose(venv).problems == [
        f"{venv}/bin/python is a loop of symlinks ({' -> '.join([*hops, 'python'])})"]


def test_the_command_check_suggests_repairs_the_venv_that_was_checked(tmp_path, requirements):
    """Typed as shown, the suggested command repairs this venv (in a folder with a space), not ./.venv."""
    venv = tmp_path / "my envs" / "broken venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "bin" / "python3").unlink()
    (venv / "bin" / "python3").symlink_to("/usr/local/python/3.11.4/bin/python3")

    check = fix_venv("--check", "--venv", str(venv), "--requirements", str(requirements))
    suggested = check.stdout.rsplit("Run  ", 1)[-1].split("  to repair it.")[0]

    assert check.returncode == 1
    assert suggested == shlex.join(["python3", "fix_venv.py", "--venv", str(venv),
                                    "--requirements", str(requirements)])
    command = shlex.split(suggested)  # what a shell makes of it, typed as shown
    repair = subprocess.run([sys.executable, *command[1:]], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"})
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert venv_repair.diagnose(venv).healthy and imports_tinypkg(venv)
    assert f"✓ Repaired: {venv} now runs" in repair.stdout
    activate = repair.stdout.split("Next: source ", 1)[1].split("  (or open", 1)[0]
    assert shlex.split(activate) == [os.path.relpath(venv / "bin" / "activate", REPO)]


def test_missing_pip_repaired_from_inside_the_venv_with_nothing_installed(tmp_path, requirements):
    """Run with the broken venv's own bare Python: fix_venv.py needs no package, and restarts from outside."""
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert [problem.split(" (")[0] for problem in venv_repair.diagnose(venv).problems] == ["pip is missing"]

    repair = subprocess.run([str(venv / "bin" / "python"), "fix_venv.py", "--venv", str(venv),
                             "--requirements", str(requirements)], cwd=REPO, capture_output=True, text=True,
                            timeout=300)

    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert f"Running from {venv}; starting again with" in repair.stdout
    assert "pip is missing" in repair.stdout
    assert venv_repair.diagnose(venv).pip is not None
    assert imports_tinypkg(venv)


def test_a_moved_virtualenv_is_noticed(tmp_path):
    """Scripts in bin/ carry the old absolute path: after a move, running `pip` fails."""
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "bin" / "pip").write_text("#!/workspaces/old-name/.venv/bin/python\nimport pip\n")

    problems = venv_repair.diagnose(venv).problems

    assert any("#!/workspaces/old-name/.venv/bin/python, which does not exist" in problem for problem in problems)


def test_a_folder_that_is_not_a_virtualenv_is_never_deleted(tmp_path, requirements):
    precious = tmp_path / "my-project"
    precious.mkdir()
    (precious / "thesis.tex").write_text("three years of work")

    result = fix_venv("--venv", str(precious), "--requirements", str(requirements))

    assert result.returncode == 1
    assert "is not a virtualenv: not touching it" in result.stdout
    assert (precious / "thesis.tex").read_text() == "three years of work"
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash to show the shell's own error")
def test_the_symptom_is_the_one_people_see(tmp_path):
    """What a participant sees before the repair: bash's 'required file not found' (or 'No such file')."""
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").symlink_to("/nonexistent/python3")
    script = venv / "bin" / "tool"
    script.write_text(f"#!{venv}/bin/python\nprint('hi')\n")
    script.chmod(0o755)

    shell = subprocess.run(["bash", "-c", str(script)], capture_output=True, text=True)

    assert shell.returncode != 0
    assert "required file not found" in shell.stderr or "No such file" in shell.stderr
    assert not venv_repair.diagnose(venv).healthy


# -- No virtualenv in use: setup.py installed into the interpreter itself (Codespaces, this machine) --

def test_where_to_look_is_decided_the_way_setup_py_decides_where_to_install(tmp_path):
    """setup.py: --venv DIR, the active venv, .venv where the OS manages Python (PEP 668), else this Python."""
    repo = tmp_path / "repo"
    repo.mkdir()
    plain = {"prefix": "/usr/local", "base_prefix": "/usr/local", "managed": False}
    choose = venv_repair.choose_target

    assert choose(tmp_path / "env", "/active", repo, **plain).venv == tmp_path / "env"
    assert choose(None, "/active", repo, **plain) == venv_repair.Target(Path("/active"), "the active virtualenv "
                                                                                          "($VIRTUAL_ENV)", True)
    assert choose(None, None, repo, prefix="/venvs/x", base_prefix="/usr", managed=False).venv == Path("/venvs/x")
    assert choose(None, None, repo, **{**plain, "managed": True}).venv == repo / ".venv"  # setup.py made it there
    nothing = choose(None, None, repo, **plain)
    assert nothing.venv is None and "setup.py installs the packages into this Python" in nothing.why
    (repo / ".venv").mkdir()  # someone ran `setup.py --venv`: that venv is the one in use
    assert choose(None, None, repo, **plain).venv == repo / ".venv"


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def test_requirements_are_checked_in_the_interpreter_installed_and_importing(tmp_path):
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    for wheel in (build_wheel(tmp_path, "tinypkg", "1.0"), build_wheel(tmp_path, "oldpkg", "0.9"),
                  build_wheel(tmp_path, "brokenpkg", "2.0", b"import libgone_after_the_upgrade\n")):
        zipfile.ZipFile(wheel).extractall(site_packages(venv))  # what pip would leave there
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("tinypkg==1.0\noldpkg==1.0\nbrokenpkg==2.0\nmissingpkg==3.0\n")

    checked, problems = venv_repair.requirement_problems(str(venv / "bin" / "python"), requirements)

    assert checked == 4
    assert problems == [
        "oldpkg 0.9 is installed, requirements.txt pins 1.0",
        "brokenpkg (brokenpkg) does not import: ModuleNotFoundError: No module named 'libgone_after_the_upgrade'",
        "missingpkg==3.0 is not installed",
    ]


def checkout(tmp_path: Path, requirements: str) -> Path:
    """A checkout of the project with no .venv (fix_venv.py looks for .venv next to itself)."""
    folder = tmp_path / "checkout"
    folder.mkdir()
    shutil.copy(REPO / "fix_venv.py", folder)
    (folder / "reality").symlink_to(REPO / "reality")
    (folder / "requirements.txt").write_text(requirements)
    return folder


without_a_venv = pytest.mark.skipif(
    sys.prefix != sys.base_prefix or venv_repair.externally_managed(),
    reason="needs a Python that setup.py installs into directly (not a virtualenv, not managed by the OS)")


@without_a_venv
def test_no_virtualenv_in_use_and_the_requirements_import_is_healthy(tmp_path):
    folder = checkout(tmp_path, (REPO / "requirements.txt").read_text())  # installed in this Python

    for args in (["--check"], []):  # neither looks for a venv to build
        result = subprocess.run([sys.executable, "fix_venv.py", *args], cwd=folder, capture_output=True, text=True,
                                timeout=300, env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})

        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith(f"No virtualenv in use: the packages live in this Python ({sys.executable})")
        assert f"✓ All {len(read_pins())} packages of requirements.txt import here" in result.stdout
        assert "✗" not in result.stdout
        assert not (folder / ".venv").exists()


@without_a_venv
def test_no_virtualenv_in_use_and_a_package_missing_says_how_to_install_it(tmp_path):
    folder = checkout(tmp_path, "rich==15.0.0\ntinypkg==1.0\n")

    result = subprocess.run([sys.executable, "fix_venv.py"], cwd=folder, capture_output=True, text=True,
                            timeout=300, env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})

    assert result.returncode == 1
    assert "  ✗ tinypkg==1.0 is not installed" in result.stdout and "rich" not in result.stdout
    assert f"Install them into this Python:  {sys.executable} -m pip install -r requirements.txt" in result.stdout
    assert "Or keep them in a virtualenv instead:  python3 fix_venv.py --venv" in result.stdout
    assert not (folder / ".venv").exists()


def test_asked_explicitly_a_venv_is_created(tmp_path, requirements):
    folder = checkout(tmp_path, requirements.read_text())

    result = subprocess.run([sys.executable, "fix_venv.py", "--venv"], cwd=folder, capture_output=True, text=True,
                            timeout=300, env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Creating a fresh virtualenv at {folder / '.venv'}" in result.stdout
    assert venv_repair.diagnose(folder / ".venv").healthy and imports_tinypkg(folder / ".venv")


def os_managed_python() -> str | None:
    """Debian's own Python, where pip refuses to install (PEP 668), when this machine has one."""
    python = "/usr/bin/python3"
    if not os.path.exists(python):
        return None
    probe = subprocess.run([python, "-c", "import pathlib, sysconfig; print(pathlib.Path(sysconfig.get_path("
                            "'stdlib'), 'EXTERNALLY-MANAGED').exists())"], capture_output=True, text=True)
    return python if probe.stdout.strip() == "True" else None


@pytest.mark.skipif(os_managed_python() is None, reason="no Python managed by the OS (PEP 668) on this machine")
def test_where_the_os_manages_python_a_missing_dot_venv_is_still_the_problem(tmp_path, requirements):
    """There setup.py installs into .venv, so no .venv means nothing is installed: say so, and repair."""
    folder = checkout(tmp_path, requirements.read_text())
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}

    check = subprocess.run([os_managed_python(), "fix_venv.py", "--check"], cwd=folder, capture_output=True,
                           text=True, timeout=300, env=env)

    assert check.returncode == 1
    assert f"✗ there is no virtualenv at {folder / '.venv'}" in check.stdout
    assert "managed by the OS (PEP 668), so setup.py installs into .venv" in check.stdout
    assert check.stdout.rstrip().endswith("Run  python3 fix_venv.py  to repair it.")


# -- From each state a participant's virtualenv can be in: found, the exact command printed, repaired --
# Building a virtualenv with pip is the slow part (ensurepip: seconds of CPU), so the states start from
# virtualenvs built once per test session and copied where each test wants one, their absolute paths
# rewritten: what `python3 -m venv` would have written there. The tests that use them run on one
# pytest-xdist worker (--dist loadgroup), so that they are built once, not once per worker. The repairs
# themselves build their virtualenvs for real, as a participant's would.

ON_THE_TEMPLATES_WORKER = pytest.mark.xdist_group("venv_templates")


def script_header(python: Path) -> bytes:
    """How pip starts a script run by ``python``: through /bin/sh when the path has a space or the line
    would pass Linux's 127 bytes (distlib's rule, which pip follows)."""
    if " " not in str(python) and len(str(python)) + 3 <= 127:
        return f"#!{python}\n".encode()
    return ("#!/bin/sh\n'''exec' \"" + str(python) + "\" \"$0\" \"$@\"\n' '''").encode()


def relocated_copy(template: Path, path: Path) -> None:
    """``template`` copied to ``path`` as if created there: its scripts, activate files and pyvenv.cfg name ``path``.

    Nothing else in a virtualenv holds its own absolute path (pip's RECORD files are relative; the
    interpreter links lead out of it, to the same Python).
    """
    shutil.copytree(template, path, symlinks=True)
    old_header, new_header = script_header(template / "bin" / "python3"), script_header(path / "bin" / "python3")
    for file in [path / "pyvenv.cfg", *(path / "bin").iterdir()]:
        if file.is_file() and not file.is_symlink():
            data = file.read_bytes()
            if data.startswith(old_header):  # pip's scripts: pip, pip3, pip3.11
                data = new_header + data[len(old_header):]
            file.write_bytes(data.replace(str(template).encode(), str(path).encode()))


@pytest.fixture(scope="session")
def venv_templates(tmp_path_factory) -> dict[str, Path]:
    """``{"pip only": ..., "sound": ...}``: a fresh virtualenv with pip, and one with tinypkg installed too.

    Their pip comes from ensurepip, as where this Python has no wheel of pip to hand (the repairs' other
    way): `python3 -m venv`'s, byte-compiled, so every pip run in their copies starts quicker.
    """
    folder = tmp_path_factory.mktemp("venv-templates")
    wheels = folder / "wheels"
    wheels.mkdir()
    build_wheel(wheels)
    empty, sound = folder / "pip-only", folder / "sound"
    create_with_pip(empty, symlinks=True, wheel=None)
    relocated_copy(empty, sound)
    subprocess.run([str(sound / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "--no-index",
                    "--find-links", str(wheels), "tinypkg==1.0"], check=True)  # the copy's own pip script works
    return {"pip only": empty, "sound": sound}


@ON_THE_TEMPLATES_WORKER
def test_without_a_wheel_of_pip_ensurepip_installs_it(venv_templates):
    """The templates were made the way a repair goes where this Python has no wheel of pip to hand."""
    made = venv_templates["pip only"]

    assert venv_repair.diagnose(made).problems == []
    assert (made / "bin" / "pip").is_file()
    assert [line for line in pip_record(made) if ".pyc," in line]  # ensurepip's: byte-compiled


@ON_THE_TEMPLATES_WORKER
def test_a_repair_acts_on_the_diagnosis_it_is_given_without_making_it_again(tmp_path, requirements, venv_templates):
    """fix_venv.py has just diagnosed the venv (for a kit's venv, seconds of importing every package)."""
    venv = tmp_path / "env"
    relocated_copy(venv_templates["sound"], venv)
    before = venv_repair.diagnose(venv, requirements)
    assert before.healthy
    (venv / "bin" / "pip").unlink()  # broken now: a new diagnosis would recreate the venv
    done = []

    assert venv_repair.repair(venv, requirements, log=done.append, before=before) == (before, None)
    assert done == [] and not (venv / "bin" / "pip").exists()


@ON_THE_TEMPLATES_WORKER
@pytest.mark.parametrize("module", ["pip.__main__", "pip._internal.cli.main"])
def test_a_pip_whose_command_line_is_gone_is_missing_and_the_one_that_runs_is_named(tmp_path, venv_templates, module):
    """The diagnosis does not start pip (seconds of compiling at each check): it looks for what
    `python -m pip` runs first, and takes pip's version from pip itself, as `pip --version` does."""
    venv = tmp_path / "env"
    relocated_copy(venv_templates["pip only"], venv)
    ran = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True, text=True)
    assert venv_repair.diagnose(venv).pip == " ".join(ran.stdout.split()[:2])

    (site_packages(venv) / (module.replace(".", "/") + ".py")).unlink()

    assert subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True).returncode != 0
    diagnosis = venv_repair.diagnose(venv)
    assert diagnosis.pip is None
    assert diagnosis.problems == [f"pip is missing (ImportError: No module named {module!r})"]


def make_sound_venv(path: Path, requirements: Path, templates: dict[str, Path]) -> None:
    """A working virtualenv with pip and the requirements, as setup.py leaves it."""
    relocated_copy(templates["sound"], path)
    assert venv_repair.diagnose(path, requirements).healthy


def empty_venv(path: Path, requirements: Path, templates: dict[str, Path]) -> str:
    relocated_copy(templates["pip only"], path)  # pip, and nothing else
    assert venv_repair.diagnose(path).problems == []  # a sound venv, only empty
    return "tinypkg==1.0 is not installed"


def deleted_interpreter(path: Path, requirements: Path, templates: dict[str, Path] | None = None) -> str:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    link = last_link(path)
    link.unlink()
    link.symlink_to("/usr/local/python/3.11.4/bin/python3")
    return "which no longer exists (this is the 'required file not found' error)"


def deleted_pip(path: Path, requirements: Path, templates: dict[str, Path]) -> str:
    make_sound_venv(path, requirements, templates)
    for script in (path / "bin").glob("pip*"):
        script.unlink()
    return f"{path / 'bin'} has no pip or pip3 script (deleted: the pip command fails)"


def moved_venv(path: Path, requirements: Path, templates: dict[str, Path]) -> str:
    before = path.parent / "old-place"
    make_sound_venv(before, requirements, templates)
    before.rename(path)
    return f"starts with #!{before}/bin/python"


def no_venv(path: Path, requirements: Path, templates: dict[str, Path]) -> str:
    return f"there is no virtualenv at {path}"


@pytest.mark.parametrize("state", [pytest.param(empty_venv, marks=ON_THE_TEMPLATES_WORKER), deleted_interpreter,
                                   pytest.param(deleted_pip, marks=ON_THE_TEMPLATES_WORKER),
                                   pytest.param(moved_venv, marks=ON_THE_TEMPLATES_WORKER), no_venv],
                         ids=lambda state: state.__name__)
def test_each_broken_state_is_found_and_the_printed_command_repairs_it(tmp_path, requirements, state, request):
    venv = tmp_path / "the venv"
    # Only the states that start from a working virtualenv ask for the templates (built on first use).
    templates = request.getfixturevalue("venv_templates") if state in (empty_venv, deleted_pip, moved_venv) else {}
    problem = state(venv, requirements, templates)

    check = fix_venv("--check", "--venv", str(venv), "--requirements", str(requirements))

    assert check.returncode == 1, check.stdout
    assert problem in check.stdout
    assert "healthy" not in check.stdout
    suggested = check.stdout.rsplit("Run  ", 1)[-1].split("  to repair it.")[0]
    assert shlex.split(suggested) == ["python3", "fix_venv.py", "--venv", str(venv), "--requirements",
                                      str(requirements)]
    repair = subprocess.run([sys.executable, *shlex.split(suggested)[1:]], cwd=REPO, capture_output=True, text=True,
                            timeout=300, env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"})
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert f"✓ Repaired: {venv} now runs" in repair.stdout
    assert imports_tinypkg(venv) and (venv / "bin" / "pip").exists()
    again = fix_venv("--check", "--venv", str(venv), "--requirements", str(requirements))
    assert again.returncode == 0 and "is healthy" in again.stdout and "1 packages of requirements.txt" in again.stdout


def test_a_broken_venv_folder_in_the_checkout_is_found_active_or_not(tmp_path, requirements):
    """The original kit's `venv/`, broken, while another (healthy) virtualenv is active, or none is."""
    folder = checkout(tmp_path, requirements.read_text())
    deleted_interpreter(folder / "venv", requirements)
    active = tmp_path / "active"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(active)], check=True)
    outside = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}

    for env in ({**outside, "VIRTUAL_ENV": str(active)}, outside):
        check = subprocess.run([sys.executable, "fix_venv.py", "--check"], cwd=folder, capture_output=True,
                               text=True, timeout=300, env=env)
        assert check.returncode == 1
        assert f"Found in {folder / 'venv'}:" in check.stdout and "no longer exists" in check.stdout

    repair = subprocess.run([sys.executable, "fix_venv.py"], cwd=folder, capture_output=True, text=True,
                            timeout=300, env=outside)
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert f"✓ Repaired: {folder / 'venv'} now runs" in repair.stdout
    assert imports_tinypkg(folder / "venv")

"""fix_venv.py: real virtualenvs, broken the way Codespaces breaks them, repaired for real.

The requirements installed here are a one-module wheel built by the test itself, installed by pip
with --no-index: the repair is exercised end to end with no network and in seconds.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from reality import venv_repair

REPO = Path(__file__).resolve().parent.parent


def build_wheel(folder: Path) -> None:
    """``tinypkg-1.0-py3-none-any.whl``: one module, ``VALUE = 42``, with a correct RECORD."""
    files = {
        "tinypkg/__init__.py": b"VALUE = 42\n",
        "tinypkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 1.0\n",
        "tinypkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                        b"Tag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinypkg-1.0.dist-info/RECORD,,")
    with zipfile.ZipFile(folder / "tinypkg-1.0-py3-none-any.whl", "w") as wheel:
        for name, data in files.items():
            wheel.writestr(name, data)
        wheel.writestr("tinypkg-1.0.dist-info/RECORD", "\n".join(record) + "\n")


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
    assert fix_venv("--venv", str(venv), "--check").returncode == 0


def test_the_missing_file_named_is_the_interpreter_at_the_end_of_the_links(tmp_path):
    """A real venv's bin/python is python -> python3 -> /abs/python3: when the last one goes, name it."""
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert os.readlink(venv / "bin" / "python") == "python3"  # what the venv module makes on POSIX
    (venv / "bin" / "python3").unlink()
    (venv / "bin" / "python3").symlink_to("/usr/local/python/3.11.4/bin/python3")  # gone after an image update

    check = fix_venv("--venv", str(venv), "--check")

    assert check.returncode == 1
    assert (f"{venv}/bin/python points to /usr/local/python/3.11.4/bin/python3 (via python3), "
            "which no longer exists") in check.stdout
    assert "points to python3" not in check.stdout


def test_a_loop_of_symlinks_is_named_as_such(tmp_path):
    venv = tmp_path / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (venv / "bin" / "python3").unlink()
    (venv / "bin" / "python3").symlink_to("python")  # python -> python3 -> python

    assert venv_repair.diagnose(venv).problems == [
        f"{venv}/bin/python is a loop of symlinks (python -> python3 -> python)"]


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

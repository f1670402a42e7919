"""The Codespaces configuration and the CI workflow: valid, consistent with the code, naming real files.

Nothing here can start a Codespace; what it can do is make sure that the files a Codespace or a CI
runner will read parse, name commands that exist in this repository, and pull the images the kit runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from testcontainers.core.config import testcontainers_config

from reality.config import OFFICIAL_IMAGES
from reality.provision import RYUK_IMAGE

from support.paths import ROOT as REPO
DEVCONTAINER = REPO / ".devcontainer" / "devcontainer.json"
SETUP_SH = REPO / ".devcontainer" / "setup.sh"
WORKFLOW = REPO / ".github" / "workflows" / "tests.yml"
LIFECYCLE = ("initializeCommand", "onCreateCommand", "updateContentCommand", "postCreateCommand",
             "postStartCommand", "postAttachCommand")


def strip_comments(text: str) -> str:
    """JSON with comments (devcontainer.json's format) to JSON: drop // and /* */ outside strings."""
    out, i, in_string = [], 0, False
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\":
                out.append(text[i + 1])
                i += 1
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i == -1 else i
            continue
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def devcontainer() -> dict:
    return json.loads(strip_comments(DEVCONTAINER.read_text()))


def repo_files_named(command: str) -> list[str]:
    """Paths of scripts (.py, .sh) a shell command names."""
    return re.findall(r"(?<![\w/.-])([\w./-]+\.(?:py|sh))\b", command)


def commands(config: dict) -> list[str]:
    found = []
    for key in LIFECYCLE:
        value = config.get(key)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.append(" ".join(value))
        elif isinstance(value, dict):
            found.extend(" ".join(v) if isinstance(v, list) else v for v in value.values())
    return found


def test_comment_stripping_keeps_strings_intact():
    text = '{"a": "http://x//y", /* note */ "b": 1 // trailing\n}'
    assert json.loads(strip_comments(text)) == {"a": "http://x//y", "b": 1}


def test_devcontainer_is_python_311_with_its_own_docker_engine():
    config = devcontainer()

    assert "python" in config["image"] and "3.11" in config["image"]
    docker = config["features"]["ghcr.io/devcontainers/features/docker-in-docker:2"]
    # The docker-in-docker feature has no Moby packages for Debian trixie: moby must be false there.
    if "trixie" in config["image"]:
        assert docker.get("moby") is False
    else:
        assert "bookworm" in config["image"] and docker.get("moby", True) is True
    assert any(feature.startswith("ghcr.io/devcontainers/features/node:") for feature in config["features"])


def test_port_5001_is_forwarded_labelled_announced_and_made_public():
    config = devcontainer()

    assert 5001 in config["forwardPorts"]
    attributes = config["portsAttributes"]["5001"]
    assert attributes["label"] and attributes["onAutoForward"] == "notify"
    assert 'gh codespace ports visibility 5001:public -c "$CODESPACE_NAME"' in config["postAttachCommand"]
    assert any(feature.startswith("ghcr.io/devcontainers/features/github-cli:") for feature in config["features"])


def test_every_script_the_lifecycle_commands_name_exists():
    config = devcontainer()
    named = [path for command in commands(config) for path in repo_files_named(command)]

    assert ".devcontainer/setup.sh" in named  # set-up runs when the Codespace is created
    for path in named:
        assert (REPO / path).is_file(), f"devcontainer.json runs {path}, which is not in the repository"


def test_setup_sh_is_valid_bash_and_runs_setup_py():
    assert os.access(SETUP_SH, os.X_OK)
    assert subprocess.run(["bash", "-n", str(SETUP_SH)], capture_output=True).returncode == 0
    text = SETUP_SH.read_text()
    assert re.search(r"^python3 setup\.py --yes$", text, re.MULTILINE)
    for path in repo_files_named(text):
        assert (REPO / path).is_file(), f"setup.sh runs {path}, which is not in the repository"


def test_setup_sh_pre_pulls_exactly_the_images_the_kit_runs():
    match = re.search(r"^images=\(([^)]*)\)", SETUP_SH.read_text(), re.MULTILINE)
    assert match, "setup.sh lists its images in images=(...)"

    assert set(match.group(1).split()) == {*OFFICIAL_IMAGES.values(), RYUK_IMAGE}
    # A pre-pulled reaper only helps if it is the one Testcontainers asks for.
    assert testcontainers_config.ryuk_image == RYUK_IMAGE


def test_ci_workflow_runs_the_readme_commands_on_push():
    text = WORKFLOW.read_text()

    assert re.search(r"^on:\s*\n(\s+.*\n)*?\s+push:", text, re.MULTILINE)
    assert "runs-on: ubuntu-latest" in text
    assert 'python-version: "3.11"' in text
    runs = re.findall(r"run: (.+)", text)
    assert "python3 setup.py --yes" in runs
    assert "python3 -m pytest -n auto --dist loadgroup -v" in runs
    for command in runs:
        for path in repo_files_named(command):
            assert (REPO / path).is_file(), f"the workflow runs {path}, which is not in the repository"

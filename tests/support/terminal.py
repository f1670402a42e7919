"""A real terminal (tmux) to see screens as a person would, and tools a test may need on a laptop."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from .waiting import wait_for


class Terminal:
    """A real terminal (tmux, 120x40) running one command, to see screens as a person would.

    Each terminal has a tmux server of its own. With one shared server, a session started just as the
    previous test's last session closed could reach a server on its way out ("server exited
    unexpectedly").
    """

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        # Set in the server's own configuration, so it holds before the command runs: a command that
        # ends at once leaves its last screen readable.
        config = folder / "tmux.conf"
        config.write_text("set-option -g remain-on-exit on\n")
        self._tmux = ["tmux", "-S", str(folder / "socket"), "-f", str(config)]

    def tmux(self, *arguments: str, **options) -> subprocess.CompletedProcess:
        return subprocess.run([*self._tmux, *arguments], **options)

    def start(self, command: str, cwd: Path) -> None:
        # os.environ, not the raw process environment: something in a test run exports COLUMNS=80 at
        # the C level, and the program under test must take its size from the terminal.
        environment = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
        self.tmux("new-session", "-d", "-s", self.name, "-x", "120", "-y", "40", "-c", str(cwd), command,
                  check=True, env=environment)

    def resize(self, columns: int, rows: int) -> None:
        self.tmux("resize-window", "-t", self.name, "-x", str(columns), "-y", str(rows), check=True)

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys, check=True)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name, capture_output=True, text=True).stdout

    def wait_for(self, condition: Callable[[str], bool] | str, what: str = "", timeout: float = 60) -> str:
        """The screen, once ``condition`` (a text on screen, or a test of the screen) holds."""
        check = (lambda screen: condition in screen) if isinstance(condition, str) else condition

        def shown() -> list[str] | None:  # in a list: an empty screen can be the one awaited
            screen = self.screen()
            return [screen] if check(screen) else None

        try:
            return wait_for(shown, timeout, what or repr(condition), interval=0.05)[0]
        except AssertionError as timed_out:
            raise AssertionError(f"{timed_out}; screen:\n{self.screen()}") from None

    def close(self) -> None:
        self.tmux("kill-server", capture_output=True)


def require_tool(found: bool, what: str, how: str) -> None:
    """Skip a test whose tool is missing on a participant's machine; fail it in CI (CI=true), never skip."""
    if found:
        return
    message = f"{what} is not installed ({how})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + ": CI must run every test", pytrace=False)
    pytest.skip(message)

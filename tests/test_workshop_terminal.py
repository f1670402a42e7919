"""workshop.py in a real terminal (tmux): a clean screen for each section, what went wrong kept in
sight, the last verdict read before the summary, every screen fitting 80x24 and 80x15. The screens
are kept in artifacts/ for people to read.
"""

from __future__ import annotations

import re
import sys

from support.paths import ROOT as REPO
from support.workshop import write_answer


def test_in_a_real_terminal_each_section_gets_a_clean_screen(tmp_path, terminal, artifacts_dir):
    terminal.start(f"{sys.executable} workshop.py --exercise-dir {tmp_path / 'exercise'}", cwd=REPO)
    menu = terminal.wait_for("Enter: start 1. The problem", "the menu")
    (artifacts_dir / "workshop_tmux_menu.txt").write_text(menu)
    terminal.keys("1", "Enter")
    terminal.wait_for("Enter: run  pytest tests/test_fantasy.py", "section 1's first prompt")
    terminal.keys("Enter")
    problem = terminal.wait_for("Enter: vote twice from phone-1", "the fantasy tests' results")
    (artifacts_dir / "workshop_tmux_problem.txt").write_text(problem)
    terminal.keys("q", "Enter")
    bye = terminal.wait_for("Bye!", "the goodbye")

    assert "Reality Engine — the workshop" in menu and "0/4 done · ≈6 min to go" in menu
    assert problem.lstrip().startswith("─")  # the section starts on a fresh screen, its title rule on top
    assert "Reality Engine — the workshop" not in problem
    assert "✓ The fantasy tests pass — 3 passed" in problem
    assert "Traceback" not in bye


def menu_waiting_for_input(screen: str) -> bool:
    """The menu is drawn and its prompt is the last line: the screen has settled, nothing typed yet."""
    lines = [line.rstrip() for line in screen.splitlines() if line.strip()]
    return bool(lines) and "Enter: start" in lines[-1] and lines[-1].endswith("q: quit")


def test_in_a_real_terminal_what_went_wrong_stays_in_sight_above_the_menu(tmp_path, terminal, artifacts_dir):
    terminal.start(f"env DOCKER_HOST=unix://{tmp_path}/no-docker.sock {sys.executable} workshop.py "
                   f"--exercise-dir {tmp_path / 'exercise'}", cwd=REPO)
    terminal.wait_for(menu_waiting_for_input, "the menu")
    terminal.keys("x", "Enter")  # a typo in the menu
    # (The menu as it was before the typo is echoed also passes for "waiting, no x typed": the notice
    # is what tells the redrawn one apart.)
    typo = terminal.wait_for(lambda screen: menu_waiting_for_input(screen) and " x\n" not in screen
                             and "Type a section number" in screen, "the menu, drawn again after the typo")
    terminal.keys("2", "Enter")
    terminal.wait_for("Enter: start PostgreSQL", "section 2's first prompt")
    terminal.keys("Enter")  # start PostgreSQL: Docker is not there
    failed = terminal.wait_for(lambda screen: menu_waiting_for_input(screen) and "start PostgreSQL" not in screen,
                               "the menu, back after the section failed")
    (artifacts_dir / "workshop_tmux_docker_down.txt").write_text(failed)
    terminal.keys("q", "Enter")
    terminal.wait_for("Bye!", "the goodbye")

    assert "Type a section number (1-4), Enter, or q." in typo
    assert "Reality Engine — the workshop" in failed
    # The line wraps where the terminal ends it; the words are what the participant must read.
    assert "✗ The magic could not run — Docker is not answering at DOCKER_HOST=" in " ".join(failed.split())
    assert "Traceback" not in failed


def test_in_a_real_terminal_the_last_verdict_is_read_before_the_summary(tmp_path, terminal, artifacts_dir):
    write_answer(tmp_path / "exercise")
    # Sections 1-3 done in an earlier run (a participant back after a break): the hands-on is the last
    # section left, and its verdict the last thing read before the summary, as after a whole run in one
    # go. Each of those sections is walked by keystrokes elsewhere (1 and 3 in a real terminal below,
    # 2 in this process), and every section in one run by test_non_interactive_runs_every_section_end_to_end.
    (tmp_path / "exercise" / ".workshop-progress.json").write_text(
        '{"version": 1, "seconds": {"1": 61.0, "2": 75.0, "3": 58.0}}')
    terminal.start(f"{sys.executable} workshop.py --exercise-dir {tmp_path / 'exercise'}", cwd=REPO)
    for prompt in ("Enter: start 4. Hands-on", "Enter: check"):  # Enter at each prompt, as a participant would
        terminal.wait_for(prompt, timeout=90)
        terminal.keys("Enter")
    verdict = terminal.wait_for("Enter: see what this run checked", "the pause after the verdict")
    (artifacts_dir / "workshop_tmux_own_answer.txt").write_text(verdict)
    terminal.keys("Enter")
    summary = terminal.wait_for("No container left behind", "the summary")
    (artifacts_dir / "workshop_tmux_summary.txt").write_text(summary)

    assert "✓ Your test proves the constraint." in verdict  # the verdict's panel
    assert "✓ Your test proves the constraint — passes with UNIQUE (sku), fails without it" in verdict
    assert "What this run checked" not in verdict
    assert summary.lstrip().startswith("What this run checked")  # a screen of its own
    assert re.search(r"✓\W+Hands-on\W+Your test proves the constraint", summary)
    assert "✗" not in summary and "Done." in summary


def screen_is_fit(screen: str, columns: int = 80) -> None:
    lines = screen.splitlines()
    assert all(len(line.rstrip()) <= columns for line in lines), screen
    prompt = [line for line in lines if line.strip()][-1]
    # The prompt's choices are never broken inside ("m:" at the end of a line, "menu" on the next).
    assert not prompt.rstrip().endswith(":") and "Traceback" not in screen, screen


def test_in_a_real_terminal_every_screen_reads_well_at_80x24_and_80x15(tmp_path, terminal, artifacts_dir):
    write_answer(tmp_path / "exercise")
    terminal.start(f"{sys.executable} workshop.py --exercise-dir {tmp_path / 'exercise'}", cwd=REPO)
    terminal.resize(80, 24)
    screens = {"menu 80x24": terminal.wait_for(menu_waiting_for_input, "the menu")}
    terminal.keys("3", "Enter")
    terminal.wait_for("Enter: run  pytest tests/test_fantasy.py  and", "section 3's first prompt", timeout=90)
    terminal.keys("Enter")
    screens["comparison 80x24"] = terminal.wait_for("Enter: go on to 4. Hands-on", "the comparison", timeout=180)
    terminal.resize(80, 15)
    terminal.keys("Enter")
    screens["hands-on 80x15"] = terminal.wait_for("Enter: check", "the hands-on prompt", timeout=90)
    terminal.keys("m", "Enter")
    screens["menu 80x15"] = terminal.wait_for(menu_waiting_for_input, "the menu at 80x15")
    terminal.keys("q", "Enter")
    terminal.wait_for("Bye!", "the goodbye")
    for name, screen in screens.items():
        (artifacts_dir / f"workshop_tmux_{name.replace(' ', '_')}.txt").write_text(screen)
        screen_is_fit(screen)

    comparison = screens["comparison 80x24"].splitlines()
    # The table's title and header are still on screen when its prompt is: nothing pushed them off.
    assert any(line.startswith("Mock vs Testcontainers — measured in this run") for line in comparison)
    assert any("Mock (in-memory list)" in line and "Real PostgreSQL 15" in line for line in comparison)
    assert any(line.startswith("Left behind") for line in comparison)
    menu = screens["menu 80x15"]
    # The whole menu fits 15 lines: its border's top, every section, the progress line, the prompt.
    assert menu.lstrip().startswith("╭─ Reality Engine — the workshop"), menu
    assert all(f"{n}  " in menu for n in range(1, 5)) and "3/4 done" not in menu and "✓ 3 Comparison" in menu
    hands_on = screens["hands-on 80x15"]
    assert "The db fixture (ask for it: def test_...(db):)" in hands_on  # in sight above the prompt
    assert "⏎ Enter: check test_product_sku.py  ·  s: show the solution" in hands_on

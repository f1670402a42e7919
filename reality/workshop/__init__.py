"""The 15-minute terminal workshop: the problem, the magic, the comparison, and a hands-on exercise.

``runner`` holds the flow (menu, progress, prompts), ``sections`` the four sections, ``exercise`` the
hands-on file and its checking, ``products_db`` the exercise's database fixture, ``measurements`` the
figures measured in the run, ``pytest_runner`` running pytest for real.
"""

from .runner import Workshop
from .sections import SECTIONS

__all__ = ["Workshop", "SECTIONS"]

"""The question on the projector and the options the audience votes for, validated once at start.

    >>> Poll.parse("Favourite language?", "Python, Go,Rust").options
    ('Python', 'Go', 'Rust')
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable

DEFAULT_QUESTION = "Which language do you write tests in?"
DEFAULT_OPTIONS = ("Python", "JavaScript", "Go", "Rust", "Java")

MIN_OPTIONS = 2
#: More than eight bars stop being readable from the back of a room, and stop fitting on a phone.
MAX_OPTIONS = 8
MAX_OPTION_LENGTH = 32
MAX_QUESTION_LENGTH = 140


class InvalidPoll(ValueError):
    """The question or options cannot be shown; the message is one line saying what to fix."""


#: Format characters that belong in plain text: the joiners inside emoji such as 👩‍💻 and in some
#: scripts. Other format characters are refused, bidi overrides among them: they can make the
#: projector show a different text from the one the phones send.
JOINERS = {"\u200c", "\u200d"}
#: Tag characters spell the subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
TAGS = range(0xE0020, 0xE0080)


def _has_control_characters(text: str) -> bool:
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc" or (category == "Cf" and char not in JOINERS and ord(char) not in TAGS):
            return True
    return False


@dataclass(frozen=True)
class Poll:
    """A question and its options, in the order they are shown."""

    question: str
    options: tuple[str, ...]

    def __contains__(self, choice: object) -> bool:
        return choice in self.options

    @classmethod
    def parse(cls, question: str, options: str | Iterable[str]) -> "Poll":
        """Validate ``question`` and ``options`` (a comma-separated string or a list)."""
        question = " ".join(question.split())
        if not question:
            raise InvalidPoll("--question is empty: give the audience something to answer.")
        if len(question) > MAX_QUESTION_LENGTH:
            raise InvalidPoll(f"--question is {len(question)} characters long: keep it under "
                              f"{MAX_QUESTION_LENGTH + 1} so it fits on the projector.")
        if _has_control_characters(question):
            raise InvalidPoll("--question contains control characters: use plain text.")
        items = options.split(",") if isinstance(options, str) else list(options)
        cleaned = [" ".join(item.split()) for item in items]
        if any(not item for item in cleaned):
            raise InvalidPoll('--options has an empty option: write them like "Python,Go,Rust".')
        if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
            raise InvalidPoll(f"--options has {len(cleaned)} option(s): give between {MIN_OPTIONS} and "
                              f"{MAX_OPTIONS}, separated by commas.")
        seen: dict[str, str] = {}
        for item in cleaned:
            if len(item) > MAX_OPTION_LENGTH:
                raise InvalidPoll(f'--options: "{item[:MAX_OPTION_LENGTH]}…" is too long: keep each option under '
                                  f"{MAX_OPTION_LENGTH + 1} characters.")
            if _has_control_characters(item):
                raise InvalidPoll("--options contains control characters: use plain text.")
            if item.casefold() in seen:
                raise InvalidPoll(f'--options lists "{item}" twice: each option must be different.')
            seen[item.casefold()] = item
        return cls(question, tuple(cleaned))

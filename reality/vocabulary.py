"""The show's vocabulary: every event kind and action, service state and mode, named once.

Each name is a :class:`enum.StrEnum`, so a member *is* its string: it compares equal to the text
the browser's JavaScript and older tests use, serialises to JSON as that text, and a typo in Python
is an ``AttributeError`` at import instead of an event nobody listens for.

    >>> Kind.VOTE == "vote" and Mode.REALITY == "reality"
    True
    >>> import json; json.dumps({"state": ServiceState.UP})
    '{"state": "up"}'
    >>> Mode("fantasy") is Mode.FANTASY
    True
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What an event is about: the first word of every event on the bus."""

    CONTAINER = "container"  # a container's lifecycle, from orchestration and Docker's events
    SERVICE = "service"  # the app's own probe: does the service answer?
    CHAOS = "chaos"  # the presenter's kill and recover
    VOTE = "vote"
    RATELIMIT = "ratelimit"
    MODE = "mode"  # fantasy (the mock) or reality (PostgreSQL)
    SYSTEM = "system"  # the show itself: notes, Docker, voting, results, reset, traffic
    TEST = "test"  # the live test run


class ContainerAction(StrEnum):
    PULLING = "pulling"
    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    KILLED = "killed"
    RESTARTED = "restarted"
    STOPPED = "stopped"


class ServiceState(StrEnum):
    """What the show believes about a service (and about Docker itself: up or down)."""

    STARTING = "starting"
    UP = "up"
    DOWN = "down"
    STOPPED = "stopped"


class Mode(StrEnum):
    REALITY = "reality"
    FANTASY = "fantasy"


class ModeAction(StrEnum):
    """A mode event's action is the mode switched to, or a refused switch."""

    REALITY = "reality"
    FANTASY = "fantasy"
    REFUSED = "refused"


class VoteAction(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"  # PostgreSQL's UNIQUE constraint said no
    FAILED = "failed"  # not stored: PostgreSQL busy or down


class ChaosAction(StrEnum):
    KILL = "kill"
    RECOVER = "recover"
    FAILED = "failed"


class RateLimitAction(StrEnum):
    BLOCKED = "blocked"
    ENABLED = "enabled"
    DISABLED = "disabled"
    DEGRADED = "degraded"  # Redis unreachable: counted in local memory
    RESTORED = "restored"


class SystemAction(StrEnum):
    NOTE = "note"
    TRAFFIC = "traffic"
    DOCKER_UP = "docker-up"
    DOCKER_DOWN = "docker-down"
    VOTING_OPEN = "voting-open"
    VOTING_CLOSED = "voting-closed"
    RESULTS_SHOWN = "results-shown"
    RESULTS_HIDDEN = "results-hidden"
    RESET = "reset"


class TestAction(StrEnum):
    """A test run's events: its start and end, and one per test named by its outcome."""

    __test__ = False  # not a pytest test class, whatever its name

    STARTED = "started"
    FINISHED = "finished"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    ERROR = "error"


class DockerAction(StrEnum):
    """Docker's own words: the ``Action`` of a container event on its event stream (``docker events``)."""

    CREATE = "create"
    START = "start"
    RESTART = "restart"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    DIE = "die"
    KILL = "kill"
    OOM = "oom"
    STOP = "stop"
    DESTROY = "destroy"
    RENAME = "rename"
    UPDATE = "update"


class DockerStatus(StrEnum):
    """Docker's own words: a container's ``State.Status`` (``docker inspect``)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    REMOVING = "removing"
    EXITED = "exited"
    DEAD = "dead"

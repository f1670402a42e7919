"""A section's own containers: their lifecycle told as it happens, PostgreSQL started and measured,
and the workshop's containers as Docker lists them right now."""

from __future__ import annotations

import os

from ..config import LABEL_PID, LABEL_ROLE
from ..orchestration import Infrastructure
from ..events import Event, EventBus
from ..monitor import FitToWidth, MonitorState, build_table, load_rows
from ..vocabulary import ContainerAction, Kind, SystemAction
from .session import ROLE, Session, hanging


def section_infrastructure(session: Session) -> Infrastructure:
    """Infrastructure for this section; its lifecycle events are printed as they happen.

    Printed on the console itself, not said: even a section run quietly shows what Docker is doing.
    """
    bus = EventBus()

    def show(event: Event) -> None:
        # Hanging indents: a long note (the reaper's) wraps under its own text, not at the margin.
        if event.kind == Kind.CONTAINER and event.action in (ContainerAction.PULLING, ContainerAction.STARTING):
            session.console.print(hanging("  [cyan]•[/]", event.message))
        elif event.kind == Kind.CONTAINER and event.action == ContainerAction.READY:
            session.console.print(hanging("  [green]•[/]", f"{event.message} [dim](measured by this run)[/]"))
        elif event.kind == Kind.CONTAINER and event.action == ContainerAction.FAILED:
            session.console.print(hanging("  [red]•[/]", event.message))
        elif event.kind == Kind.SYSTEM and event.action == SystemAction.NOTE:
            session.console.print(hanging("  [dim]•[/]", f"[dim]{event.message}[/]"))

    bus.subscribe(show)
    return Infrastructure(bus, role=ROLE)


def start_postgres(session: Session, infra: Infrastructure) -> None:
    """Start PostgreSQL (a spinner while it starts) and note its start time and image in the figures."""
    with session.console.status("Starting PostgreSQL with Testcontainers…"):
        infra.start("postgres")
    service = infra.services["postgres"]
    session.figures.start_seconds = service.startup_seconds
    session.figures.image = service.image.image if service.image else None


def our_containers() -> dict[str, str]:
    """The labels of this workshop's own containers."""
    return {LABEL_PID: str(os.getpid()), LABEL_ROLE: ROLE}


def docker_ps(infra: Infrastructure, title: str) -> tuple[FitToWidth, int]:
    """This workshop's containers as Docker lists them right now, and how many there are."""
    state = MonitorState(show_all=True)
    state.replace_all(load_rows(infra.client, our_containers()))
    table = build_table(state, title=title, empty="(no containers: this workshop has nothing running)")
    return table, len(state.rows())

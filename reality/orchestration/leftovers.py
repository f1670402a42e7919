"""Removing containers: one run's own (by its labels), and earlier runs' orphans at a show's start.

Which leftovers a checkout may remove is decided by :func:`reality.owners.kit_verdict`, the rule
``cleanup.py`` follows too; this module only acts on its verdicts.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection

import docker
from docker.errors import DockerException, NotFound
from docker.models.containers import Container

from ..config import CHECKOUT, LABEL_HOST, LABEL_PROJECT, LABEL_SERVICE, PROJECT
from ..owners import UNKNOWN_CHECKOUT, kit_verdict, parse_docker_time

#: How a disposable container is ended without waiting: Docker waits for a SIGKILLed container to
#: exit (0.2 s for PostgreSQL here), not for other signals. PostgreSQL's SIGQUIT is its "immediate
#: shutdown" and Redis's SIGTERM a quick one; both exit at once, and auto-remove does the rest.
DISPOSE_SIGNALS = {"postgres": "SIGQUIT", "redis": "SIGTERM"}


def remove(container: Container | None) -> None:
    """Force-remove a container and its anonymous volumes; nothing when it is already gone."""
    if container is None:
        return
    try:
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except DockerException:
        pass  # engine gone: cleanup.py or the next run's sweep will catch it


def dispose_container(container: Container | None) -> bool:
    """End an auto-remove container and leave its removal to Docker; force-remove any other.

    True when it is ended or gone; False when Docker refused (the caller's sweep may try again).
    """
    if container is None:
        return True
    try:
        container.reload()  # the state Docker has now, not the one this object was made with
        # Created but never started, Docker would not remove it by itself.
        if container.attrs.get("HostConfig", {}).get("AutoRemove") and container.status != "created":
            try:
                container.kill(signal=DISPOSE_SIGNALS.get(container.labels.get(LABEL_SERVICE, ""), "SIGKILL"))
            except DockerException:
                pass  # already exiting or gone: Docker removes it
            return True
        container.remove(force=True, v=True)
    except NotFound:
        pass
    except DockerException:
        return False  # being removed already, or the engine is gone: cleanup.py or the next run's sweep catch it
    return True


def remove_containers(client: docker.DockerClient, labels: dict[str, str], dispose: bool = False,
                      skip: Collection[str] = ()) -> list[str]:
    """Force-remove every container carrying all of ``labels``; returns their names.

    ``dispose``: kill the auto-remove ones instead and let Docker remove them without waiting.
    ``skip``: ids already being removed. They are left alone: looking at a container while Docker
    takes it down waits for Docker (0.1 s and more here), which is what made a session's end slow.
    """
    filters = {"label": [f"{key}={value}" for key, value in labels.items()]}
    removed = []
    try:
        # One listing; only the containers not skipped are looked at (the SDK's ``containers.list``
        # would inspect every one).
        for summary in client.api.containers(all=True, filters=filters):
            if summary["Id"] in skip:
                continue
            try:
                container = client.containers.get(summary["Id"])
                if dispose:
                    if not dispose_container(container):
                        continue
                else:
                    container.remove(force=True, v=True)
                removed.append(container.name)
            except DockerException:  # gone meanwhile, or Docker refused this one: the others still go
                pass
    except DockerException:
        pass
    return removed


@dataclass
class Sweep:
    """What a sweep removed (this checkout's leftovers) and what it kept (other checkouts' leftovers)."""

    removed: list[str] = field(default_factory=list)
    kept: dict[str, list[str]] = field(default_factory=dict)  # checkout -> container names
    checkout: Path = CHECKOUT

    def lines(self) -> list[str]:
        """What the show's terminal says about it: which checkout the leftovers came from."""
        said = []
        if self.removed:
            said.append(f"Removed {len(self.removed)} container(s) left by an earlier run of this checkout "
                        f"({self.checkout}) that was killed.")
        for checkout, names in self.kept.items():
            whose = (f"another checkout ({checkout})" if checkout != UNKNOWN_CHECKOUT
                     else "a checkout not recorded (an older kit's)")
            said.append(f"Kept {len(names)} container(s) left by a killed run of {whose}: "
                        "`python3 cleanup.py --all-checkouts` removes them.")
        return said


def sweep_orphans(client: docker.DockerClient, checkout: Path = CHECKOUT) -> Sweep:
    """Remove ``checkout``'s containers of earlier runs on this host whose process is gone (our own reaper).

    Other checkouts' orphans are reported, never removed; their live runs' containers go unmentioned.
    """
    sweep = Sweep(checkout=checkout)
    mine_here = [f"{LABEL_PROJECT}={PROJECT}", f"{LABEL_HOST}={socket.gethostname()}"]
    try:
        # Sparse: Docker's list already holds labels, names and creation times; a full listing would
        # inspect every container (one more API call each) at every test session's and show's start.
        containers = client.containers.list(all=True, filters={"label": mine_here}, sparse=True, ignore_removed=True)
    except DockerException:
        return sweep
    for container in containers:
        attrs = container.attrs
        created = attrs.get("Created")  # epoch seconds in a list, RFC 3339 text in an inspect
        created = float(created) if isinstance(created, (int, float)) else parse_docker_time(created)
        name = (attrs.get("Names") or [container.short_id])[0].lstrip("/")
        verdict = kit_verdict(attrs.get("Labels") or {}, created, checkout=checkout)
        if verdict.elsewhere:
            if verdict.orphaned:
                sweep.kept.setdefault(verdict.elsewhere, []).append(name)
            continue
        if not verdict.remove:
            continue
        try:
            container.remove(force=True, v=True)
            sweep.removed.append(name)
        except DockerException:
            pass
    return sweep

"""Which images to run, and how to get them onto a machine.

Order of preference for each service, unless an environment variable pins one:

1. the official image (``postgres:15-alpine``, ``redis:7-alpine``) when present;
2. the drop-in image ``setup.py`` built from Debian's packages (for machines with no registry);
3. the official image again, for Testcontainers to pull.

Provisioning (used by ``setup.py``): pull with a progress bar per image, or, with no registry,
build the drop-ins with debootstrap; save and load an image bundle for a USB stick or a LAN share.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from .config import IMAGE_ENV, LOCAL_IMAGES, OFFICIAL_IMAGES, SERVICES, pinned_image
from .errors import ImageMissing, RealityError, first_line

DOCKERFILES = Path(__file__).parent / "dockerfiles"
BASE_IMAGE = "reality-engine/bookworm-base:1"
RYUK_IMAGE = "testcontainers/ryuk:0.8.1"
#: One debootstrap gives both services: the two drop-ins share this base layer on disk.
DEBIAN_PACKAGES = ("postgresql-15", "redis-server")

Log = Callable[[str], None]


@dataclass(frozen=True)
class ImageResolution:
    """The image chosen for a service and why (``pinned``, ``official``, ``local`` or ``pull``)."""

    service: str
    image: str
    source: str

    @property
    def present(self) -> bool:
        return self.source != "pull"

    def describe(self) -> str:
        why = {
            "pinned": f"pinned by {IMAGE_ENV[self.service]}",
            "official": "official image",
            "local": "drop-in built from Debian's packages by setup.py",
            "pull": "official image, not present yet: it will be pulled",
        }[self.source]
        return f"{self.image} ({why})"


def is_present(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except ImageNotFound:
        return False
    return True


def resolve_image(client: docker.DockerClient, service: str, pinned: str | None = None) -> ImageResolution:
    """Pick the image for ``service`` (``postgres`` or ``redis``) following the module's order.

    ``pinned``: the image to use; without one, the settings' pin (:func:`reality.config.pinned_image`).
    Each image is inspected by name: listing every image would be one call instead of two, but with
    the containerd image store (Docker Engine 29, recent Docker Desktop) a listing costs Docker
    0.4-1 s, against a few milliseconds for an inspect.
    """
    pinned = pinned or pinned_image(service)
    if pinned:
        return ImageResolution(service, pinned, "pinned")
    if is_present(client, OFFICIAL_IMAGES[service]):
        return ImageResolution(service, OFFICIAL_IMAGES[service], "official")
    if is_present(client, LOCAL_IMAGES[service]):
        return ImageResolution(service, LOCAL_IMAGES[service], "local")
    return ImageResolution(service, OFFICIAL_IMAGES[service], "pull")


def require_images(client: docker.DockerClient, pins: dict[str, str | None] | None = None) -> dict[str, ImageResolution]:
    """Resolve every service's image and insist that each one is already on this machine."""
    pins = pins or {}
    chosen = {service: resolve_image(client, service, pins.get(service)) for service in SERVICES}
    # An official or drop-in image was found present while choosing it; a pinned one is looked up.
    missing = [r.image for r in chosen.values()
               if not r.present or (r.source == "pinned" and not is_present(client, r.image))]
    if missing:
        raise ImageMissing(f"Image(s) {', '.join(missing)} missing: run `python3 setup.py --yes` first.")
    return chosen


def pull(client: docker.DockerClient, image: str, on_progress: Callable[[int, int], None] | None = None) -> None:
    """Pull ``image``, reporting (bytes done, bytes total) summed over its layers."""
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    layers: dict[str, tuple[int, int]] = {}
    try:
        for status in client.api.pull(repository, tag=tag, stream=True, decode=True):
            if "error" in status:
                raise ImageMissing(f"Cannot pull {image}: {status['error'].strip()}")
            detail = status.get("progressDetail") or {}
            if status.get("id") and detail.get("total"):
                layers[status["id"]] = (detail.get("current", 0), detail["total"])
            elif status.get("id") and status.get("status") in ("Pull complete", "Already exists") and status["id"] in layers:
                total = layers[status["id"]][1]
                layers[status["id"]] = (total, total)
            if on_progress and layers:
                on_progress(sum(c for c, _ in layers.values()), sum(t for _, t in layers.values()))
    except (APIError, DockerException) as exc:
        text = str(exc)
        if any(word in text for word in ("no such host", "dial tcp", "i/o timeout", "connection refused")):
            raise ImageMissing(f"Cannot pull {image}: no registry reachable from this machine.") from exc
        raise ImageMissing(f"Cannot pull {image}: {first_line(exc)}") from exc


def build_drop_in_images(client: docker.DockerClient, log: Log = print, suite: str = "bookworm") -> list[str]:
    """Build the PostgreSQL 15 and Redis 7 drop-ins from Debian's packages (needs root and debootstrap)."""
    if os.geteuid() != 0:
        raise RealityError("Building images needs root (debootstrap): run `sudo python3 setup.py`.")
    if not shutil.which("debootstrap"):
        log("Installing debootstrap with apt")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], check=True, env=env, stdout=subprocess.DEVNULL)
    if not is_present(client, BASE_IMAGE):
        with tempfile.TemporaryDirectory(prefix="reality-rootfs-") as tmp:
            rootfs = Path(tmp) / "rootfs"
            log(f"debootstrap {suite} with {', '.join(DEBIAN_PACKAGES)} (about a minute)")
            subprocess.run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(DEBIAN_PACKAGES)}", suite, str(rootfs)],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            )
            _slim_rootfs(rootfs)
            tarball = Path(tmp) / "rootfs.tar"
            subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
            log(f"Importing the root filesystem as {BASE_IMAGE}")
            repository, tag = BASE_IMAGE.rsplit(":", 1)
            client.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
    built = []
    for service in SERVICES:
        image = LOCAL_IMAGES[service]
        log(f"Building {image}")
        client.images.build(path=str(DOCKERFILES / service), tag=image, buildargs={"BASE": BASE_IMAGE}, rm=True)
        built.append(image)
    return built


def _slim_rootfs(rootfs: Path) -> None:
    """Drop what a throwaway test server never reads: docs, man pages, apt caches, the default cluster."""
    for relative in ("usr/share/doc", "usr/share/man", "usr/share/info", "var/cache/apt", "var/lib/apt/lists",
                     "var/lib/postgresql/15", "etc/postgresql/15"):
        shutil.rmtree(rootfs / relative, ignore_errors=True)


def save_bundle(images: Iterable[str], path: Path) -> None:
    """Write ``images`` into one tar file (gzip-compressed when ``path`` ends in ``.gz``)."""
    images = list(images)
    # The SDK saves one image per call; the CLI writes several into one archive sharing their layers.
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb", compresslevel=1) as out:
            proc = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
            assert proc.stdout is not None
            shutil.copyfileobj(proc.stdout, out, 1 << 20)
            if proc.wait() != 0:
                raise RealityError(f"docker save failed for {', '.join(images)}")
    else:
        subprocess.run(["docker", "save", "-o", str(path), *images], check=True)


def load_bundle(client: docker.DockerClient, path: Path) -> list[str]:
    """Load every image in a bundle written by :func:`save_bundle`; returns their tags."""
    if not path.is_file():
        raise RealityError(f"No image bundle at {path}: check the path (USB stick mounted? LAN share reachable?).")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as bundle:
        # A file object is streamed to the engine, so a bundle of several hundred MB is never held in memory.
        loaded = client.images.load(bundle)
    return [tag for image in loaded for tag in image.tags]

"""The images: chosen by configuration, and drop-ins that behave like the official ones.

These run whichever PostgreSQL and Redis images this machine resolves to (official or drop-in), so
on every machine they check what the workshop will really run.
"""

from __future__ import annotations

import psycopg2
import pytest
from testcontainers.community.postgres import PostgresContainer
from testcontainers.community.redis import RedisContainer

from reality import docker_engine
from reality.config import IMAGE_ENV, LOCAL_IMAGES, OFFICIAL_IMAGES
from reality.errors import DockerUnavailable, ImageMissing
from reality.orchestration import configure_reaper, project_labels
from reality.provision import is_present, require_images, resolve_image


@pytest.fixture(scope="module")
def client():
    client = docker_engine.connect()
    configure_reaper(client)
    yield client
    client.close()


def test_an_environment_variable_pins_the_image(client, monkeypatch):
    monkeypatch.setenv(IMAGE_ENV["postgres"], "example.org/my-postgres:15")

    chosen = resolve_image(client, "postgres")

    assert (chosen.image, chosen.source) == ("example.org/my-postgres:15", "pinned")


@pytest.mark.parametrize("service", ["postgres", "redis"])
def test_the_official_image_wins_when_present_else_the_drop_in(client, monkeypatch, service):
    monkeypatch.delenv(IMAGE_ENV[service], raising=False)

    chosen = resolve_image(client, service)

    if is_present(client, OFFICIAL_IMAGES[service]):
        assert (chosen.image, chosen.source) == (OFFICIAL_IMAGES[service], "official")
    elif is_present(client, LOCAL_IMAGES[service]):
        assert (chosen.image, chosen.source) == (LOCAL_IMAGES[service], "local")
    else:
        assert (chosen.image, chosen.source) == (OFFICIAL_IMAGES[service], "pull")
    assert chosen.image in chosen.describe()


def test_the_show_is_refused_a_missing_pinned_image_and_given_a_present_one(client, monkeypatch):
    """require_images looks a pinned image up (a tag never built, or one that is here, by its id)."""
    monkeypatch.delenv(IMAGE_ENV["redis"], raising=False)
    monkeypatch.setenv(IMAGE_ENV["postgres"], "reality-tests/never-built:0")
    with pytest.raises(ImageMissing, match="reality-tests/never-built:0 missing"):
        require_images(client)

    here = client.images.get(resolve_image(client, "redis").image).id  # sha256:…, no tag at all
    monkeypatch.setenv(IMAGE_ENV["postgres"], here)
    chosen = require_images(client)
    assert (chosen["postgres"].image, chosen["postgres"].source) == (here, "pinned")
    assert chosen["redis"].source in ("official", "local")


def test_postgres_image_honours_the_official_environment_contract(client):
    """Testcontainers' stock PostgresContainer (its own psql-in-container wait) with other credentials."""
    image = resolve_image(client, "postgres").image
    postgres = PostgresContainer(image, username="shop", password="s3cret'quote", dbname="catalog", driver=None)
    with postgres.with_kwargs(labels=project_labels("postgres", "tests")) as pg:
        with psycopg2.connect(pg.get_connection_url()) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT current_user, current_database(), split_part(version(), ' ', 2)")
            user, database, version = cursor.fetchone()
        conn.close()
    assert (user, database) == ("shop", "catalog")
    assert version.startswith("15.")


def test_postgres_image_refuses_a_wrong_password(client):
    image = resolve_image(client, "postgres").image
    with PostgresContainer(image, driver=None).with_kwargs(labels=project_labels("postgres", "tests")) as pg:
        wrong = pg.get_connection_url().replace(f":{pg.password}@", ":not-the-password@")
        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            psycopg2.connect(wrong)


def test_redis_image_answers_testcontainers_ping_from_the_host(client):
    image = resolve_image(client, "redis").image
    with RedisContainer(image).with_kwargs(labels=project_labels("redis", "tests")) as redis_container:
        redis = redis_container.get_client()
        redis.set("answer", 42)
        assert redis.get("answer") == b"42"
        assert redis.info("server")["redis_version"].startswith("7.")
        redis.close()


def test_docker_down_is_one_actionable_line(monkeypatch, tmp_path):
    host = f"unix://{tmp_path}/no-docker-here.sock"
    monkeypatch.setenv("DOCKER_HOST", host)

    with pytest.raises(DockerUnavailable) as down:
        docker_engine.connect(timeout=1)

    message = str(down.value)
    assert "\n" not in message
    assert message == (f"Docker is not answering at DOCKER_HOST={host}: "
                       "start that engine, or unset DOCKER_HOST to use this machine's.")

"""Shared fixtures: real SQLite and PostgreSQL databases, real media from ffmpeg, real configs.

PostgreSQL: the server on 127.0.0.1:5432 (trust auth). Each test that asks for it gets a fresh
database, dropped afterwards. With LIUHEN_REQUIRE_PG=1 (as in CI) a missing server fails the
run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from liuhen import config

PG_ADMIN = os.environ.get("LIUHEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except Exception as e:  # the reason is shown in the skip message
        return str(e)


@pytest.fixture(scope="session")
def pg_ready() -> None:
    why = _pg_available()
    if why is not None:
        if os.environ.get("LIUHEN_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required (LIUHEN_REQUIRE_PG=1) but unreachable: {why}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN} unreachable: {why}")


def create_pg_database() -> tuple[str, Callable[[], None]]:
    import psycopg

    name = f"liuhen_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{base}/{name}", drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'var' / 'liuhen.db'}"
        return
    request.getfixturevalue("pg_ready")
    url, drop = create_pg_database()
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def pg_url(pg_ready: None) -> Iterator[str]:
    url, drop = create_pg_database()
    try:
        yield url
    finally:
        drop()


def write_config(folder: Path, database_url: str, extra: str = "") -> Path:
    """A config.toml for a test: everything under ``folder``, quick stability checks."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "config.toml"
    p.write_text(
        f"""
[archive]
database_url = "{database_url}"
store = "local"
store_path = "var/originals"
upload_path = "var/uploads"
key_path = "var/keys/archive.ed25519"
checkpoint_every_events = 10

[station]
id = "st-test"
dock_root = "dock"
state_path = "var/station"
stable_seconds = 0.3
poll_seconds = 0.1
{extra}
""",
        encoding="utf-8",
    )
    return p


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str) -> Callable[..., config.Settings]:
    def make(extra: str = "", folder: Path | None = None) -> config.Settings:
        path = write_config(folder or tmp_path, database_url, extra)
        return config.load(path, environ={})

    return make


@pytest.fixture
def settings(make_settings: Callable[..., config.Settings]) -> config.Settings:
    return make_settings()


@pytest.fixture
def archive(settings: config.Settings) -> Iterator[object]:
    from app.runtime import open_archive

    a = open_archive(settings)
    try:
        yield a
    finally:
        a.close()


# ---------------------------------------------------------------- real media from ffmpeg


def ffmpeg_bin() -> str:
    b = shutil.which("ffmpeg")
    if b is None:
        pytest.fail("ffmpeg is not installed; run `make setup` (it installs ffmpeg) before the tests")
    return b


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def make_clip(media_dir: Path) -> Callable[..., Path]:
    """Generate (once per session, cached by arguments) a real H.264/AAC MP4 clip."""
    cache: dict[tuple, Path] = {}

    def make(seconds: float = 1.0, size: str = "320x240", tone: int = 440, ext: str = "mp4",
             vcodec: str = "libx264", pattern: str = "testsrc2") -> Path:
        key = (seconds, size, tone, ext, vcodec, pattern)
        if key in cache:
            return cache[key]
        out = media_dir / f"clip_{len(cache)}.{ext}"
        args = [ffmpeg_bin(), "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"{pattern}=size={size}:rate=25:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}",
                "-c:v", vcodec, "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out)]
        if vcodec == "libx264":
            args[-1:-1] = ["-preset", "ultrafast"]
        subprocess.run(args, check=True)
        cache[key] = out
        return out

    return make


# the retention world (tests/retention_world.py), a fixture for every test module that asks for it
pytest_plugins = ["tests.retention_world", "tests.review_world"]

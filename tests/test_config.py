"""config.toml and its environment overrides: where paths point, which value wins, and what a person
is told when a value does not fit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from liuhen import config
from liuhen.errors import ConfigError
from tests.conftest import write_config

REPO = Path(__file__).resolve().parent.parent
SQLITE = "sqlite:///var/liuhen.db"


def test_relative_paths_resolve_against_the_config_files_folder(tmp_path, monkeypatch):
    cfg = write_config(tmp_path / "site", SQLITE, '[s3]\nbucket = "b"\n')
    monkeypatch.chdir(tmp_path)
    s = config.load(cfg, environ={})
    site = (tmp_path / "site").resolve()
    assert s.config_path == cfg and s.base_dir == site
    assert s.archive.database_url == f"sqlite:///{site}/var/liuhen.db"
    assert s.archive.store_path == site / "var/originals" and s.station.dock_root == site / "dock"
    assert s.station.staging_path == site / "var/station/staging"
    assert s.archive.key_path == site / "var/keys/archive.ed25519"
    assert s.station.id == "st-test" and s.station.poll_seconds == 0.1 and s.archive.checkpoint_every_events == 10
    assert s.workers == config.WorkerSettings() and s.cases == config.CaseSettings()  # sections left out: defaults


def test_an_environment_variable_overrides_one_nested_key_and_leaves_the_rest(tmp_path, monkeypatch):
    cfg = write_config(tmp_path, SQLITE)
    monkeypatch.setenv("LIUHEN_STATION__ID", "from-os-environ")  # environ= is the environment, not os.environ
    s = config.load(cfg, environ={
        "LIUHEN_STATION__DOCK_ROOT": "elsewhere/dock",  # relative: against the config file's folder too
        "LIUHEN_STATION__BAYS__BAY1__DEVICE": "DSJ-E001",
        "LIUHEN_ARCHIVE__CHECKPOINT_EVERY_EVENTS": "7",
        "LIUHEN_STATION__DELETE_AFTER_OFFLOAD": "true",
        "LIUHEN_STATION__TOKEN": "",
        "LIUHEN_CASES__CATEGORIES": '["行政处罚", "其他"]',
        "LIUHEN_CONFIG": str(tmp_path / "other.toml"),  # not a setting (no __)
        "LIUHEN_TEST_PG": "postgresql://nowhere",
    })
    assert s.station.dock_root == tmp_path.resolve() / "elsewhere/dock"
    assert s.station.bays == {"bay1": config.BaySettings(device="DSJ-E001")}
    assert s.archive.checkpoint_every_events == 7 and s.station.delete_after_offload is True
    assert s.station.token is None and s.cases.categories == ("行政处罚", "其他")
    assert s.station.id == "st-test" and s.station.state_path == tmp_path.resolve() / "var/station"
    assert s.archive.store == "local" and s.archive.checkpoint_every_minutes == 10.0


def test_s3_keys_come_from_the_config_then_the_aws_variables(tmp_path):
    aws = {"AWS_ACCESS_KEY_ID": "aws-id", "AWS_SECRET_ACCESS_KEY": "aws-secret"}
    s3 = config.load(write_config(tmp_path, SQLITE), environ=aws).s3
    assert (s3.access_key_id, s3.secret_access_key) == ("aws-id", "aws-secret")
    cfg = write_config(tmp_path, SQLITE, '[s3]\naccess_key_id = "cfg-id"\nendpoint_url = ""\n')
    s3 = config.load(cfg, environ={**aws, "LIUHEN_S3__SECRET_ACCESS_KEY": "env-secret"}).s3
    assert (s3.access_key_id, s3.secret_access_key, s3.endpoint_url) == ("cfg-id", "env-secret", None)


def test_settings_are_frozen(tmp_path):
    s = config.load(write_config(tmp_path, SQLITE), environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.station = s.station  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.station.id = "other"  # type: ignore[misc]
    assert dataclasses.replace(s.station, id="st-b").id == "st-b" and s.station.id == "st-test"
    moved = dataclasses.replace(s, archive=dataclasses.replace(s.archive, key_path=tmp_path / "k"))
    assert moved.archive.key_path == tmp_path / "k" and moved.station == s.station


def test_the_repository_config_toml_loads_as_documented(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = config.load(REPO / "config.toml", environ={})
    assert s.archive.database_url == f"sqlite:///{REPO}/var/liuhen.db" and s.archive.store == "local"
    assert s.station.archive_url is None and s.station.token is None and s.s3.endpoint_url is None
    assert s.station.bays["bay3"] == config.BaySettings(device="DSJ-C003", officer="000789")
    assert s.cases.requirement("查封扣押") == "full" and s.cases.requirement("立案") == "text"
    assert s.auth == config.AuthSettings() and s.station.filename_pattern == config.DEFAULT_PATTERN


def _refused(tmp_path: Path, extra: str = "", environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as e:
        config.load(write_config(tmp_path, SQLITE, extra), environ=environ or {})
    return e.value.diagnostics()


def test_a_bad_value_in_the_file_names_the_key_the_value_the_file_and_the_fix(tmp_path):
    said = _refused(tmp_path, '[workers]\nthreads = "many"\n')
    assert "[workers] threads is 'many'" in said and "valid integer" in said
    assert f"Fix [workers] threads in {tmp_path / 'config.toml'}" in said


def test_a_bad_value_in_the_environment_names_the_variable(tmp_path):
    said = _refused(tmp_path, environ={"LIUHEN_STATION__POLL_SECONDS": "fast"})
    assert "[station] poll_seconds is 'fast' in the environment variable LIUHEN_STATION__POLL_SECONDS" in said
    assert "Fix or unset LIUHEN_STATION__POLL_SECONDS" in said
    said = _refused(tmp_path, environ={"LIUHEN_ARCHIVE__STORE": "ftp"})
    assert "[archive] store is 'ftp'" in said and "'local' or 's3'" in said
    said = _refused(tmp_path, environ={"LIUHEN_CASES__STEPS": "立案,结案"})
    assert "LIUHEN_CASES__STEPS could not be read" in said and "JSON" in said


@pytest.mark.parametrize(("extra", "expected"), [
    ("[s3]\nmultipart_chunk_mb = 1.5\n", "[s3] multipart_chunk_mb is 1.5"),
    ("[auth]\nidle_minutes = 0\n", "[auth] idle_minutes is 0"),
    ("[auth]\naccount_free_attempts = 0\n", "[auth] account_free_attempts is 0"),
    ("[auth]\nsession_max_hours = -1\n", "[auth] session_max_hours is -1"),
    ("[auth]\nmin_password = 6\n", "[auth] min_password is 6"),
    ('[cases.checklist]\n"询问" = "video"\n', "[cases] checklist.询问 is 'video'"),
    ('[cases.checklist]\n"巡逻" = "av"\n', "names steps that are not in [cases] steps: 巡逻"),
    ('[cases]\nnumber_format = "{unit}-{seq}"\n', "lacks {unit}, {year} or {seq}"),
    ('[cases]\nnumber_format = "{unit}-{year}-{seq}-{x}"\n', "cannot be filled"),
    ("[cases]\ngap_tolerance_s = -2\n", "[cases] gap_tolerance_s is -2"),
    ('bays = "bay1"\n', "[station] bays is 'bay1' in the config file"),
    ('[retention]\ndefault_class = "short"\n', "names retention classes that are not defined: default_class = 'short'"),
    ('[retention.case_categories]\n"行政处罚" = "forever"\n',
     "case_categories.行政处罚 = 'forever'"),
    ('[retention.case_categories]\n"巡逻" = "case"\n', "names case categories that are not in [cases] categories: 巡逻"),
    ('[retention.classes.x]\nlabel = "某类"\n', "either days = N or permanent = true"),
    ('[retention.classes.x]\nlabel = "某类"\ndays = 30\npermanent = true\n', "either days = N or permanent = true"),
    ("[retention]\ngrace_days = -1\n", "[retention] grace_days is -1"),
])
def test_each_check_is_a_config_error_naming_the_key(tmp_path, extra, expected):
    assert expected in _refused(tmp_path, extra)


def test_a_missing_or_broken_config_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "absent.toml", environ={})
    (tmp_path / "broken.toml").write_text("[station\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        config.load(tmp_path / "broken.toml", environ={})

"""The ``liuhen`` command line, run as a user runs it: a real process, real files, its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from hashing.models import CustodyEvent
from tests.docks import BAY3_BINDING, build_multi_bay_dock, put


def liuhen(cfg: Path, *args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**os.environ, **(env or {})})


def jsonl(out: str) -> list[dict]:
    return [json.loads(x) for x in out.splitlines() if x.strip()]


@pytest.fixture
def settings(make_settings):
    return make_settings(BAY3_BINDING)


def test_ingest_once_json_reports_every_file_then_exits(settings, make_clip, tmp_path):
    files = build_multi_bay_dock(settings.station.dock_root, make_clip)
    gbk = put(settings.station.dock_root, b"bay3/DCIM/" + "询问笔录.MP4".encode("gbk"), make_clip(tone=1234))
    r = liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = jsonl(r.stdout)
    assert len(rows) == len(files) + 1
    for row in rows:
        assert {"path", "status", "sha256", "size", "evidence_id", "reason"} <= set(row)
        assert row["status"] in {"archived", "duplicate"}
        assert isinstance(row["evidence_id"], int)
    by_path = {row["path"]: row for row in rows}
    for f in files:
        assert by_path[f.rel.decode()]["sha256"] == f.sha256
    g = next(row for row in rows if row["path_hex"])
    assert bytes.fromhex(g["path_hex"]) == gbk.rel and g["path"] == "bay3/DCIM/询问笔录.MP4"


def test_ingest_exits_non_zero_and_names_refused_files(settings, make_clip, tmp_path):
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    os.mkfifo(settings.station.dock_root / "bay1" / "fifo.MP4")
    r = liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json")
    assert r.returncode == 3
    refused = [x for x in jsonl(r.stdout) if x["status"] == "refused"]
    assert [x["path"] for x in refused] == ["bay1/fifo.MP4"]
    assert "named pipe" in refused[0]["reason"]


def test_missing_dock_folder_is_a_clear_error(settings):
    r = liuhen(settings.config_path, "ingest", "/nonexistent/dock", "--once")
    assert r.returncode == 1
    assert "/nonexistent/dock does not exist" in r.stderr and "one sub-folder per bay" in r.stderr
    r = liuhen(settings.config_path, "ingest", "/nonexistent/dock", "--once", "--json")
    err = json.loads(r.stdout)
    assert err["code"] == "error" and "does not exist" in err["detail"]


def test_show_json_gives_metadata_sightings_and_custody(settings, make_clip):
    f = put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    (row,) = jsonl(liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json").stdout)
    for ref in (str(row["evidence_id"]), f.sha256[:12]):
        r = liuhen(settings.config_path, "show", ref, "--json")
        assert r.returncode == 0, r.stderr
        rec = json.loads(r.stdout)
        assert rec["sha256"] == f.sha256 and rec["device_id"] == "DSJ-A001" and rec["officer_id"] == "000123"
        (s,) = rec["sightings"]
        assert (s["station_id"], s["bay"], s["device_id"]) == ("st-test", "bay1", "DSJ-A001")
        assert s["original_path"] == "DSJ-A001_000123_20261123093000_0001.MP4"
        assert [e["action"] for e in rec["custody"]][:3] == ["offloaded", "received", "stored"]
    r = liuhen(settings.config_path, "show", "999999", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["code"] == "not_found"


def _modules_after(*argv: str, cfg: Path | None = None) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run ``liuhen ARGV`` in a fresh process as the console script does; its output and every module
    it imported (the last line of its standard output)."""
    code = ("import json, sys\nfrom app.cli import main\ntry:\n    sys.exit(main(sys.argv[1:]))\n"
            "finally:\n    print(json.dumps(sorted(sys.modules)))")
    pre = ["--config", str(cfg)] if cfg else []
    r = subprocess.run([sys.executable, "-c", code, *pre, *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return r, set(json.loads(r.stdout.splitlines()[-1]))


def _loaded(modules: set[str], packages: set[str]) -> list[str]:
    return sorted(m for m in modules if m in packages or m.split(".")[0] in packages)


# what no start-up of a command that does not serve, process media or talk to S3 should pay for
HEAVY = {"fastapi", "starlette", "uvicorn", "jinja2", "rich", "boto3", "botocore", "ffmpeg", "httpx", "watchdog",
         "bagit", "argon2", "api", "console", "media", "integrity"}  # (retention: showing an evidence shows its keep-until)


def test_help_imports_no_command_module_no_config_and_no_database():
    r, modules = _modules_after("--help")
    assert "show one evidence record" in r.stdout and "{ingest,station,verify,show" in r.stdout
    assert _loaded(modules, HEAVY | {"sqlalchemy", "pydantic", "pydantic_settings", "cryptography", "liuhen.config",
                                     "archive", "hashing", "jobs", "auth", "cases", "roster", "ingest"}) == []
    assert sorted(m for m in modules if m.startswith("app.")) == ["app.cli", "app.cli._common"]


def test_a_commands_arguments_load_with_it():
    r, modules = _modules_after("show", "--help")
    assert "evidence_id" in r.stdout and "--json" in r.stdout
    assert sorted(m for m in modules if m.startswith("app.")) == ["app.cli", "app.cli._common", "app.cli.evidence"]


def test_show_imports_what_showing_needs_not_the_console_media_or_other_commands(settings, make_clip):
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    (row,) = jsonl(liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json").stdout)
    r, modules = _modules_after("show", str(row["evidence_id"]), "--json", cfg=settings.config_path)
    assert json.loads(r.stdout.splitlines()[0])["evidence_id"] == row["evidence_id"]
    assert _loaded(modules, HEAVY | {"alembic"}) == []  # the schema is at head: no migration machinery
    assert sorted(m for m in modules if m.startswith("app.cli.")) == ["app.cli._common", "app.cli.evidence"]


def test_verify_json_into_a_pipe_draws_nothing_and_loads_no_rich(settings, make_clip):
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json")
    r, modules = _modules_after("verify", "--json", cfg=settings.config_path)
    assert json.loads(r.stdout.splitlines()[0])["ok"] is True
    assert _loaded(modules, {"rich"}) == []


def test_every_command_is_listed_under_the_module_that_registers_it_with_its_help():
    """``COMMANDS`` (what ``liuhen --help`` lists without importing the modules) says what the
    modules register: the same names, each under its module, with the same help."""
    import argparse
    import importlib

    from app.cli import COMMANDS

    modules = sorted(p.stem for p in Path(__file__).resolve().parents[1].glob("app/cli/[!_]*.py"))
    registered: dict[str, tuple[str, str]] = {}
    for module in modules:
        sub = argparse.ArgumentParser().add_subparsers()

        def add(name, fn, help, parent=sub):
            return parent.add_parser(name, help=help)

        importlib.import_module(f"app.cli.{module}").register(sub, add)
        registered |= {a.dest: (module, a.help) for a in sub._choices_actions}
    assert registered == COMMANDS


def test_station_public_key_verifies_manifests_with_openssl(settings, make_clip, tmp_path):
    from sqlalchemy import select

    from app.runtime import open_archive
    from archive.models import Sighting

    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json")
    r = liuhen(settings.config_path, "keys", "public", "--station", "st-test")
    assert r.returncode == 0 and r.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    (tmp_path / "station.pem").write_text(r.stdout)
    a = open_archive(settings)
    with a.sessions() as db:
        s = db.execute(select(Sighting)).scalar_one()
        (tmp_path / "manifest.json").write_bytes(s.manifest)
        (tmp_path / "manifest.sig").write_bytes(s.signature)
    a.close()
    ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "station.pem", "-rawin",
                         "-in", "manifest.json", "-sigfile", "manifest.sig"], cwd=tmp_path, capture_output=True)
    assert ok.returncode == 0, ok.stderr


def test_verify_exit_code_and_json_name_a_damaged_original(settings, make_clip):
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    (row,) = jsonl(liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json").stdout)
    r = liuhen(settings.config_path, "verify", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ok"] is True
    stored = next(p for p in settings.archive.store_path.rglob(row["sha256"]))
    os.chmod(stored, 0o644)
    with open(stored, "r+b") as fh:
        fh.seek(100)
        c = fh.read(1)
        fh.seek(100)
        fh.write(bytes([c[0] ^ 0x80]))
    r = liuhen(settings.config_path, "verify", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 3 and report["ok"] is False
    assert report["failures"][0]["evidence_id"] == row["evidence_id"]
    human = liuhen(settings.config_path, "verify")
    assert f"Evidence {row['evidence_id']}" in human.stdout and "FAILED original_altered" in human.stdout


def test_config_paths_resolve_against_the_config_file_and_env_overrides(tmp_path, database_url, make_clip):
    from tests.conftest import write_config

    cfg = write_config(tmp_path / "site", database_url)
    put(tmp_path / "site" / "dock", "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = liuhen(cfg, "ingest", "--once", "--json", cwd=elsewhere)  # dock_root from config, relative to it
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "site" / "var" / "originals").is_dir()
    assert not (elsewhere / "var").exists()
    r = liuhen(cfg, "ingest", "--once", "--json", cwd=elsewhere,
               env={"LIUHEN_STATION__DOCK_ROOT": str(tmp_path / "nowhere")})
    assert r.returncode == 1 and "nowhere does not exist" in r.stderr


def test_export_cli_makes_a_bag_that_bagit_validates(settings, make_clip, tmp_path):
    import bagit

    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    (row,) = jsonl(liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json").stdout)
    r = liuhen(settings.config_path, "export", str(row["evidence_id"]), "--out", str(tmp_path / "bag"))
    assert r.returncode == 0, r.stderr
    assert "VERIFY.txt" in r.stdout
    bagit.Bag(str(tmp_path / "bag")).validate()
    again = liuhen(settings.config_path, "export", str(row["evidence_id"]), "--out", str(tmp_path / "bag"), "--json")
    assert again.returncode == 1 and json.loads(again.stdout)["code"]  # a non-empty target is refused


def test_jobs_worker_and_show_report_media_processing(settings, make_clip, tmp_path):
    import bagit

    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip(seconds=2.0))
    (row,) = jsonl(liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json").stdout)
    jobs = jsonl(liuhen(settings.config_path, "jobs", "--json").stdout)
    assert [(j["kind"], j["state"], j["evidence_id"]) for j in jobs] == [("probe", "pending", row["evidence_id"])]

    r = liuhen(settings.config_path, "jobs", "--wait", "--json")  # embedded default: runs the workers itself
    assert r.returncode == 0, r.stderr
    jobs = jsonl(r.stdout)
    assert sorted((j["kind"], j["state"], j["progress"]) for j in jobs) == [
        ("previews", "done", 1.0), ("probe", "done", 1.0), ("proxy", "done", 1.0)]
    rec = json.loads(liuhen(settings.config_path, "show", str(row["evidence_id"]), "--json").stdout)
    assert rec["playback"] == "ready" and abs(rec["media"]["duration_s"] - 2.0) < 0.2
    assert rec["media"]["video_codec"] == "h264" and rec["media"]["width"] == 320
    assert {d["kind"] for d in rec["derived"]} == {"proxy", "poster", "sprite", "vtt"}
    assert all(d["status"] == "stored" and len(d["sha256"]) == 64 for d in rec["derived"])

    e = liuhen(settings.config_path, "export", str(row["evidence_id"]), "--out", str(tmp_path / "bag"), "--json")
    assert e.returncode == 0, e.stderr
    bagit.Bag(str(tmp_path / "bag")).validate()
    derived = sorted(p.name for p in (tmp_path / "bag" / "data" / "originals").glob("*/derived/*"))
    assert derived == ["poster.jpg", "proxy.mp4", "sprite.jpg", "thumbnails.vtt"]


def test_worker_until_idle_as_a_separate_process(settings, make_clip):
    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json")
    w = liuhen(settings.config_path, "worker", "--until-idle")
    assert w.returncode == 0 and "Ran 3 job(s)" in w.stdout, w.stderr
    assert "job-start" in w.stderr and "job-end" in w.stderr


def test_units_and_users_add_reads_the_password_from_stdin(settings):
    r = liuhen(settings.config_path, "units", "add", "110101-JT", "东城区交通执法大队", "--json")
    assert r.returncode == 0, r.stderr
    p = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(settings.config_path), "users", "add",
                        "zhangsan", "--role", "investigator", "--unit", "110101-JT", "--json"],
                       input="correct horse battery\n", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["role"] == "investigator"
    from app.runtime import open_archive
    from auth.service import authenticate

    a = open_archive(settings)
    try:
        u = authenticate(a.sessions, username="zhangsan", password="correct horse battery", settings=settings.auth)
        assert u.password_hash.startswith("$argon2id$")
    finally:
        a.close()
    bad = subprocess.run([sys.executable, "-m", "app.cli", "--config", str(settings.config_path), "users", "add",
                          "lisi", "--role", "wizard", "--unit", "110101-JT"],
                         input="correct horse battery\n", capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "wizard" in bad.stderr


def test_showing_evidence_is_itself_a_custody_event_naming_who(settings, make_clip):
    import getpass

    put(settings.station.dock_root, "bay1/DSJ-A001_000123_20261123093000_0001.MP4", make_clip())
    (row,) = jsonl(liuhen(settings.config_path, "ingest", str(settings.station.dock_root), "--once", "--json").stdout)
    liuhen(settings.config_path, "show", str(row["evidence_id"]))
    rec = json.loads(liuhen(settings.config_path, "show", str(row["evidence_id"]), "--json").stdout)
    viewed = [e for e in rec["custody"] if e["action"] == "viewed"]
    assert len(viewed) == 1 and viewed[0]["actor"] == f"cli:{getpass.getuser()}"


def _users(cfg: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "--config", str(cfg), "users", *args],
                          input=stdin, capture_output=True, text=True, timeout=120)


def test_users_disable_enable_reset_passwd_and_revoke_token_from_the_command_line(settings):
    from app.runtime import open_archive
    from auth.errors import AccountDisabled, PasswordChangeRequired
    from auth.service import authenticate

    cfg = settings.config_path
    assert liuhen(cfg, "units", "add", "110101-JT", "东城区交通执法大队").returncode == 0
    assert _users(cfg, "add", "zhangsan", "--role", "investigator", "--unit", "110101-JT",
                  stdin="correct horse battery\n").returncode == 0
    weak = _users(cfg, "add", "admin1", "--role", "admin", "--unit", "110101-JT", stdin="12345678\n")
    assert weak.returncode == 1 and "at least 12" in weak.stderr
    look_alike = _users(cfg, "add", "ＺｈａｎｇＳａｎ", "--role", "auditor", "--unit", "110101-JT",
                        stdin="correct horse battery\n")
    assert look_alike.returncode == 1 and "already exists" in look_alike.stderr
    for name in ("案件系统", "备份"):
        assert _users(cfg, "token", "zhangsan", "--name", name).returncode == 0

    a = open_archive(settings)
    try:
        r = _users(cfg, "disable", "zhangsan")
        assert r.returncode == 0 and "disabled" in r.stdout, r.stderr
        with pytest.raises(AccountDisabled):
            authenticate(a.sessions, username="zhangsan", password="correct horse battery", settings=settings.auth)
        assert _users(cfg, "enable", "zhangsan").returncode == 0
        r = _users(cfg, "revoke-token", "zhangsan", "--name", "备份", "--json")
        assert r.returncode == 0 and json.loads(r.stdout) == {"username": "zhangsan", "revoked": 1}, r.stderr
        assert _users(cfg, "revoke-token", "zhangsan").returncode == 1  # neither --name nor --all
        r = _users(cfg, "reset", "zhangsan", stdin="temporary pass 2026\n")
        assert r.returncode == 0 and "next sign-in" in r.stdout, r.stderr
        with pytest.raises(PasswordChangeRequired):
            authenticate(a.sessions, username="zhangsan", password="temporary pass 2026", settings=settings.auth)
        wrong = _users(cfg, "passwd", "zhangsan", stdin="not the password\nbrand new secret 42\n")
        assert wrong.returncode == 1 and "Wrong user name or password" in wrong.stderr
        r = _users(cfg, "passwd", "zhangsan", stdin="temporary pass 2026\nbrand new secret 42\n")
        assert r.returncode == 0, r.stderr
        assert authenticate(a.sessions, username="zhangsan", password="brand new secret 42",
                            settings=settings.auth).username == "zhangsan"
        r = _users(cfg, "unlock", "zhangsan")
        assert r.returncode == 0 and "throttle cleared" in r.stdout
        with a.sessions() as db:
            actions = [e.action for e in db.scalars(select(CustodyEvent).order_by(CustodyEvent.seq))]
    finally:
        a.close()
    for action in ("user_disabled", "user_enabled", "api_token_revoked", "password_reset", "password_changed",
                   "user_unlocked"):
        assert actions.count(action) == 1, (action, actions)


def test_serve_refuses_a_negative_number_of_web_processes(tmp_path: Path) -> None:
    r = liuhen(tmp_path / "config.toml", "serve", "--web-processes", "-1")
    assert r.returncode == 2
    assert "--web-processes" in r.stderr and "0 for one per core" in r.stderr

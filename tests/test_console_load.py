"""No read is served without its custody event: under 50 concurrent clients, through a kill -9, and
when the event cannot be written.

A real ``liuhen serve`` runs in a subprocess on the API world's database (SQLite and PostgreSQL).
Every request carries a User-Agent of its own, which its custody event records (``detail.user_agent``),
so each response a client received complete with 200 is matched with exactly its event.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.runtime import open_archive
from auth import service as accounts
from hashing.batch import CustodyUnavailable
from hashing.custody import verify_log
from hashing.models import CustodyEvent, CustodyHead
from liuhen import config
from tests.api_world import BACKENDS, PASSWORD, World, user_of, world_for

API = "/api/v1"
CLIENTS = 50
READERS = ("investigator", "legal_reviewer", "records_manager")  # search, view, play, see the custody history


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          make_clip: Callable[..., Path]) -> Iterator[World]:
    yield from world_for(request, tmp_path_factory, make_clip)


@dataclass
class Who:
    username: str
    token: str  # API token
    cookie: str  # console session


def _people(world: World) -> list[Who]:
    out = []
    for role in READERS:
        username = user_of(role)
        user = accounts.authenticate(world.archive.sessions, username=username, password=PASSWORD,
                                     settings=world.settings.auth)
        with world.archive.sessions.begin() as db:
            cookie, _ = accounts.start_session(db, user=user, ip="127.0.0.1", user_agent="load test")
        out.append(Who(username, world.tokens[username], cookie))
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(world: World, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--config", str(world.settings.config_path), "serve",
                             "--port", str(port), "--no-station", *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):  # until it answers (imports, migrations checked): 60 s at most
        if proc.poll() is not None:
            raise AssertionError(f"liuhen serve exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", f"{API}/health")
            if c.getresponse().status == 200:
                c.close()
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("liuhen serve did not answer within 60 s")


@dataclass
class Served:
    """What the clients received complete: (user agent, what it was) of each 200; other statuses counted."""
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])  # in every user agent of this load
    ok: list[tuple[str, str, str]] = field(default_factory=list)  # (username, path kind, user agent)
    other: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _requests(world: World, who: Who) -> list[tuple[str, str, dict[str, str], str]]:
    """(kind, path, headers, expected action) of the reads a client makes, in turn."""
    ev = world.evidence["zhangsan"]
    api = {"Authorization": f"Bearer {who.token}"}
    page = {"Cookie": f"{world.settings.auth.session_cookie}={who.cookie}"}
    return [
        ("api-search", f"{API}/evidence?q={quote('张三')}", api, "searched"),
        ("api-evidence", f"{API}/evidence/{ev}", api, "viewed"),
        ("api-custody", f"{API}/evidence/{ev}/custody?limit=20", api, "viewed"),
        ("page-search", f"/search?q={quote('张三')}", page, "searched"),
        ("page-evidence", f"/evidence/{ev}", page, "viewed"),
        ("api-proxy", f"{API}/evidence/{ev}/media/proxy", {**api, "Range": "bytes=0-65535"}, "played"),
    ]


def _load(world: World, port: int, people: list[Who], served: Served, *, rounds: int | None,
          stop: threading.Event) -> list[threading.Thread]:
    def client(n: int) -> None:
        who = people[n % len(people)]
        todo = _requests(world, who)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = 0
        while not stop.is_set() and (rounds is None or i < rounds * len(todo)):
            kind, path, headers, _ = todo[(i + n) % len(todo)]
            ua = f"load/{served.run}/{n}/{i}"
            i += 1
            try:
                conn.request("GET", path, headers={**headers, "User-Agent": ua})
                r = conn.getresponse()
                r.read()  # IncompleteRead if the server died half-way: then it was not served
            except (OSError, http.client.HTTPException):
                with served.lock:
                    served.errors += 1
                conn.close()
                if stop.is_set() or rounds is None:
                    time.sleep(0.05)
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            with served.lock:
                if r.status in (200, 206):
                    served.ok.append((who.username, kind, ua))
                else:
                    served.other[r.status] = served.other.get(r.status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads


def _events_by_agent(settings: config.Settings, run: str) -> dict[str, list[tuple[str, str]]]:
    """user agent -> [(actor, action)] of the load's events, read from a freshly opened archive."""
    archive = open_archive(settings, migrate=False)
    try:
        out: dict[str, list[tuple[str, str]]] = {}
        with archive.sessions() as db:
            for actor, action, detail in db.execute(select(CustodyEvent.actor, CustodyEvent.action,
                                                           CustodyEvent.detail)
                                                    .where(CustodyEvent.detail.like(f'%"load/{run}/%'))):
                ua = json.loads(detail).get("user_agent", "")
                out.setdefault(ua, []).append((actor, action))
        return out
    finally:
        archive.close()


def _assert_each_served_read_has_its_event(world: World, served: Served) -> None:
    actions = {kind: action for kind, _, _, action in _requests(world, _people_stub())}
    events = _events_by_agent(world.settings, served.run)
    missing = [(u, kind, ua) for u, kind, ua in served.ok
               if (f"user:{u}", actions[kind]) not in events.get(ua, [])]
    assert not missing, f"{len(missing)} of {len(served.ok)} reads served without their custody event: {missing[:5]}"
    # and no read left two events
    assert all(len(v) == 1 for v in events.values()), [kv for kv in events.items() if len(kv[1]) != 1][:5]


def _people_stub() -> Who:
    return Who("x", "x", "x")


def _verify_log(world: World) -> None:
    archive = open_archive(world.settings, migrate=False)
    try:
        with archive.sessions() as db:
            problems = verify_log(db, archive.key.public_pem).problems
        assert not problems, problems[:5]
    finally:
        archive.close()


@pytest.mark.slow
def test_under_50_concurrent_clients_every_read_served_has_its_custody_event(world: World) -> None:
    # two web processes (`serve --web-processes 2`): two custody writers append to the one log
    people = _people(world)
    proc, port = _serve(world, "--web-processes", "2")
    try:
        served = Served()
        stop = threading.Event()
        for t in _load(world, port, people, served, rounds=2, stop=stop):
            t.join(timeout=300)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert served.errors == 0 and not served.other, (served.errors, served.other)
    assert len(served.ok) == CLIENTS * 2 * len(_requests(world, people[0]))
    _assert_each_served_read_has_its_event(world, served)
    _verify_log(world)


@pytest.mark.slow
def test_a_kill_9_mid_load_leaves_no_served_read_without_its_custody_event(world: World) -> None:
    people = _people(world)
    proc, port = _serve(world)
    served = Served()
    stop = threading.Event()
    try:
        threads = _load(world, port, people, served, rounds=None, stop=stop)
        for _ in range(1200):  # until the load is well under way (not a time: a count of answers)
            with served.lock:
                if len(served.ok) >= 150:
                    break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-load: requests in every phase, events queued and committing
        proc.wait(timeout=30)
        stop.set()
        for t in threads:
            t.join(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(served.ok) >= 150 and served.errors > 0, (len(served.ok), served.errors)
    _assert_each_served_read_has_its_event(world, served)
    _verify_log(world)


def test_a_read_whose_custody_event_cannot_be_written_is_refused(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(batch: object) -> None:
        raise OSError("disk full (simulated)")

    ev = world.evidence["zhangsan"]
    token, _ = _cookie_for(world, user_of("investigator"))
    api = world.client(user_of("investigator"))
    page = world.client()
    page.cookies.set(world.settings.auth.session_cookie, token)
    before = world.last_seq()
    assert api.get(f"{API}/evidence/{ev}").status_code == 200  # (signs the session in, touches the token)
    assert page.get(f"/evidence/{ev}").status_code == 200
    monkeypatch.setattr(world.archive.writer, "_commit", broken)
    seq = world.last_seq()
    for path in (f"{API}/evidence?q=x", f"{API}/evidence/{ev}", f"{API}/evidence/{ev}/custody",
                 f"{API}/evidence/{ev}/media/proxy"):
        r = api.get(path)
        assert r.status_code == 503 and r.json()["code"] == "custody_unavailable", (path, r.status_code, r.text)
        assert "custody event could not be recorded" in r.json()["detail"]
    r = page.get(f"/evidence/{ev}")
    assert r.status_code == 503 and "张三" not in r.text and "无法记录本次访问" in r.text  # (the page speaks zh)
    assert world.last_seq() == seq > before  # nothing was written, and nothing served
    monkeypatch.undo()
    assert api.get(f"{API}/evidence/{ev}").status_code == 200  # the writer goes on once the database does


def test_the_writer_commits_many_reads_in_one_transaction_and_refuses_after_its_timeout(world: World) -> None:
    w = world.archive.writer
    batches, handed = w.batches, w.handed
    threads = [threading.Thread(target=w.append, kwargs=dict(actor="test:writer", action="viewed", tool="t",
                                                              tool_version="1")) for _ in range(40)]
    with world.archive.sessions.begin() as db:  # hold the write lock (the head row) while the reads queue
        db.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update()).scalar_one()
        for t in threads:
            t.start()
        for _ in range(600):  # until all 40 are handed over (the first ones may be in the blocked batch)
            if w.handed - handed >= 40:
                break
            time.sleep(0.05)
    for t in threads:
        t.join(timeout=60)
    assert w.batches - batches <= 3  # grouped: a few transactions for 40 events
    slow = type(w)(w.sessions, w.custody, timeout_s=0.2)
    with world.archive.sessions.begin() as db:
        db.execute(select(CustodyHead).where(CustodyHead.id == 1).with_for_update()).scalar_one()
        with pytest.raises(CustodyUnavailable, match="not written within 0.2 s"):
            slow.append(actor="test:writer", action="viewed", tool="t", tool_version="1")
    slow.close()


def _cookie_for(world: World, username: str) -> tuple[str, str]:
    user = accounts.authenticate(world.archive.sessions, username=username, password=PASSWORD,
                                 settings=world.settings.auth)
    with world.archive.sessions.begin() as db:
        token, s = accounts.start_session(db, user=user, ip="10.1.2.3", user_agent="pytest")
        return token, s.csrf_token


def test_the_evidence_page_and_the_custody_api_show_the_newest_events_and_page_the_rest(world: World) -> None:
    import re

    import liuhen

    ev = world.evidence["wangwu"]
    with world.archive.sessions.begin() as db:
        for i in range(120):
            world.archive.custody.record(db, actor="test:history", action="viewed", tool="test",
                                         tool_version=liuhen.__version__, evidence_id=ev, detail={"n": i})
    with world.archive.sessions() as db:
        all_seqs = sorted(db.scalars(select(CustodyEvent.seq).where(CustodyEvent.evidence_id == ev)), reverse=True)
    token, _ = _cookie_for(world, user_of("investigator"))
    page = world.client()
    page.cookies.set(world.settings.auth.session_cookie, token)
    shown: list[int] = []
    url: str | None = f"/evidence/{ev}"
    while url is not None:
        r = page.get(url)
        assert r.status_code == 200
        seqs = [int(s) for s in re.findall(r"· #(\d+)</small>", r.text)]
        assert 0 < len(seqs) <= 50 and seqs == sorted(seqs, reverse=True)
        shown += seqs
        more = re.search(r'href="(/evidence/\d+\?custody_before=\d+)#custody" rel="next"', r.text)
        url = more.group(1) if more else None
    # every event once, newest first (the views of the page itself come after the first page's reading)
    assert shown == [s for s in all_seqs if s <= shown[0]] and len(shown) > 120
    api = world.client(user_of("investigator"))
    got: list[int] = []
    link: str | None = f"{API}/evidence/{ev}/custody?limit=50"
    while link is not None:
        r = api.get(link)
        assert r.status_code == 200 and len(r.json()) <= 50
        got += [e["seq"] for e in r.json()]
        m = re.match(r'<([^>]+)>; rel="next"', r.headers.get("link", ""))
        link = m.group(1) if m else None
    assert got == sorted(got, reverse=True) and set(all_seqs) <= set(got)
    assert api.get(f"{API}/evidence/{ev}/custody?limit=501").status_code == 422

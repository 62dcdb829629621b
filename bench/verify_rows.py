"""How long ``liuhen verify``'s row check takes: N evidence rows, each written with its bound event.

    .venv/bin/python bench/verify_rows.py --rows 20000            # SQLite in a temporary folder
    .venv/bin/python bench/verify_rows.py --rows 20000 --url postgresql://postgres@127.0.0.1/DB

Times ``integrity.bindings.expected_hashes`` (reading the bound hashes out of the log) and
``check_rows`` (reading every bound row as plain columns and hashing it), and checks that the
untouched archive is clean. Prints rows per second and the time this gives for 1,000,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.runtime import open_archive  # noqa: E402
from archive.bindings import EVIDENCE  # noqa: E402
from archive.models import Evidence  # noqa: E402
from archive.verify import Report  # noqa: E402
from hashing.binding import bound  # noqa: E402
from integrity.bindings import check_rows, expected_hashes  # noqa: E402
from liuhen import config  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="liuhen-bench-rows-") as d:
        url = args.url or f"sqlite:///{d}/var/liuhen.db"
        cfg = Path(d) / "config.toml"
        cfg.write_text(f'[archive]\ndatabase_url = "{url}"\nstore_path = "var/originals"\n'
                       f'key_path = "var/keys/archive.ed25519"\ncheckpoint_every_events = 1000\n', encoding="utf-8")
        archive = open_archive(config.load(cfg, environ={}))
        try:
            t0 = time.perf_counter()
            start = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
            for i in range(0, args.rows, 1000):
                with archive.sessions.begin() as db:
                    for j in range(i, min(i + 1000, args.rows)):
                        sha = hashlib.sha256(str(j).encode()).hexdigest()
                        ev = Evidence(sha256=sha, size=1000 + j, store_key=f"originals/{sha}", file_name=f"F{j}.MP4",
                                      media_kind="video", media_state="ok", device_id="DSJ-A001", officer_id="000123",
                                      recorded_at=start + dt.timedelta(seconds=j), duration_s=30.0 + j % 7,
                                      width=1920, height=1080, video_codec="h264", audio_codec="aac",
                                      probe_json='{"format": {"duration": "30.0"}}', playback="ready")
                        db.add(ev)
                        db.flush()
                        archive.custody.record(db, actor="bench", action="stored", evidence_id=ev.id,
                                               object_sha256=sha, tool="bench", tool_version="0",
                                               detail={"bound": bound((EVIDENCE, ev))})
            built = time.perf_counter() - t0
            with archive.sessions() as db:
                t0 = time.perf_counter()
                expected = expected_hashes(db)
                t_log = time.perf_counter() - t0
            r = Report()
            t0 = time.perf_counter()
            n = check_rows(archive, r)
            t_rows = time.perf_counter() - t0
        finally:
            archive.close()
    assert sum(len(v) for v in expected.values()) == args.rows and not r.failures, r.failures[:3]
    per_m = (t_rows) / n * 1_000_000
    print(f"{args.rows} rows (built in {built:.1f} s): bound hashes read from the log in {t_log:.2f} s, "
          f"every row checked (log read included) in {t_rows:.2f} s = {n / t_rows:,.0f} rows/s; "
          f"1,000,000 bound rows would take ≈ {per_m:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

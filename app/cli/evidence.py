"""``liuhen verify``, ``liuhen show`` and ``liuhen export``: checking, looking at and handing over
evidence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli._common import EXIT_FAILED, EXIT_OK, Add, cli_actor, opened, print_json
from liuhen import config
from liuhen.errors import LiuhenError
from liuhen.words import said


def cmd_verify(args: argparse.Namespace, settings: config.Settings) -> int:
    from app.progress import counting
    from integrity.service import verify_all

    with opened(settings) as archive, counting("校验 verifying", show=not args.json, stream=sys.stderr) as progress:
        report = verify_all(archive, actor=cli_actor(), progress=progress, baseline=args.baseline)
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"Checked {report.originals} originals, {report.signatures} manifest signatures, "
              f"{report.events} custody events, {report.checkpoints} signed checkpoints "
              f"({report.anchored} read back from anchors), "
              f"{report.records} text-record versions, {report.rows} rows against their custody events, "
              f"{report.derived} derived files, {report.retention} retention records (disposals and keep-until).")
        if report.baselined:
            print(f"Bound {report.baselined} rows that no custody event vouched for (baseline, stated in the log).")
        for f in report.failures:
            print(f"FAILED {f.kind}: {f.detail}\n    {f.action}")
        print("全部通过 All checks passed." if report.ok else f"{len(report.failures)} failure(s).")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_show(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.service import view
    from retention.report import evidence_retention, keep_words

    with opened(settings) as archive, archive.sessions.begin() as db:
        record = view(db, archive.custody, ref=args.evidence_id, actor=cli_actor(), tool="liuhen show")
        record["retention"] = evidence_retention(db, settings.retention, record["evidence_id"])
    if args.json:
        print_json(record)
        return EXIT_OK
    print(f"Evidence {record['evidence_id']}  {record['file_name']}")
    for k in ("sha256", "size", "media_kind", "media_state", "media_note", "device_id", "officer_id", "recorded_at",
              "store_key"):
        if record.get(k) is not None:
            print(f"  {k:<12} {record[k]}")
    for s in record["sightings"]:
        print(f"  sighting {s['sighting_id']}: station {s['station_id']} bay {s['bay']} "
              f"recorder {s['device_id']} — {s['original_path']}")
    r = record["retention"]
    print(f"  保存期限 retention: {r['class']} ({r['class_label']}), {keep_words(r)}")
    for x in r["reasons"]:
        print("    - " + ", ".join(f"{k} {v}" for k, v in x.items()))
    for h in r["holds"]:
        print(f"    保全 hold {h['hold_id']} ({h['scope_kind']}) by {h['placed_by']} at {h['placed_at']}: {h['reason']}")
    if r["disposal"] is not None:
        d = r["disposal"]
        print(f"    销毁 disposal {d['disposal_id']}: {d['state']}, scheduled {d['scheduled_at']} by {d['scheduled_by']},"
              f" due {d['due_at']}")
    for e in record.get("custody", []):
        print(f"  #{e['seq']:<6} {e['at']}  {e['action']:<20} {e['actor']:<24} {e['outcome']}  {e['tool']}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace, settings: config.Settings) -> int:
    from archive.export import export_bag

    if bool(args.case) == bool(args.evidence_id):
        raise LiuhenError(said("请指明要导出的证据或一个案件（--case），二者只能选一", "Name either evidence to export or one case (--case), not both and not neither."),
                          said("例如 liuhen export 12 13 --out 目录 或 liuhen export --case 110101-2026-000001 --out 目录。", "e.g. `liuhen export 12 13 --out DIR` or `liuhen export --case 110101-2026-000001 --out DIR`."))
    with opened(settings) as archive:
        if args.case:
            from cases.export import export_case
            from publication.bag import bag_part
            from retention.service import destroyed

            result = export_case(archive, args.case, Path(args.out), actor=cli_actor(),
                                 destroyed=destroyed, extra=bag_part(settings))
        else:
            from sqlalchemy import select

            from archive.models import Evidence
            from retention.service import refuse_destroyed

            with archive.sessions() as db:  # a destroyed original is said so, not called missing
                ids = [int(r) if str(r).isdigit() else db.scalar(select(Evidence.id).where(Evidence.sha256 == r))
                       for r in args.evidence_id]
                refuse_destroyed(db, [i for i in ids if i is not None])
            result = export_bag(archive, list(args.evidence_id), Path(args.out), actor=cli_actor())
    if args.json:
        print_json(result.to_dict())
    else:
        print(f"Exported {len(result.evidence_ids)} evidence item(s), {result.files} files, to the BagIt bag "
              f"{result.path}.\nCheck it without liuhen: see {result.path}/data/VERIFY.txt "
              "(sha256sum -c manifest-sha256.txt; openssl pkeyutl -verify ...).")
    return EXIT_OK


def register(sub: Any, add: Add) -> None:
    sp = add("verify", cmd_verify, "re-hash every original, check every signature, the custody log and its anchors")
    sp.add_argument("--json", action="store_true")
    sp.add_argument("--baseline", action="store_true",
                    help="first bind rows no custody event vouches for (an archive from before bound rows), "
                         "recording that it did")

    sp = add("show", cmd_show, "show one evidence record: metadata, sightings, custody events")
    sp.add_argument("evidence_id")
    sp.add_argument("--json", action="store_true")

    sp = add("export", cmd_export, "export evidence (or a whole case) as a BagIt bag verifiable without liuhen")
    sp.add_argument("evidence_id", nargs="*")
    sp.add_argument("--case", help="export this case: its text records, linked originals, coverage report, custody")
    sp.add_argument("--out", required=True, help="folder to create for the bag")
    sp.add_argument("--json", action="store_true")

"""Media jobs: ``probe``, then ``proxy`` and ``previews``, as idempotent functions of a job.

probe   ffprobe the original → duration, streams, rotation, creation time (the container's
        time wins over the file name's), GPS track from sidecars → evidence row; enqueue proxy and previews.
proxy   a copy for the browser (remux when the source is already browser-safe, else transcode),
        or a preview (photo); the recording is playable once it commits.
previews  poster, thumbnail sprite + WebVTT (video), waveform (audio). Each derived file is
        hashed and stored like an original under ``derived/``, pointing back to its original, with
        the exact ffmpeg command, version, exit status and stderr tail in its custody event.

Media that cannot be probed or rendered is marked ``unplayable`` with the reason; its original
is never touched. Every job writes its results and finishes in one transaction.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import liuhen
from archive.bindings import DERIVED, EVIDENCE
from archive.context import Archive
from archive.models import DerivedFile, Evidence
from archive.sniff import note_said
from hashing.binding import bound
from hashing.digest import hash_file
from jobs.queue import enqueue
from jobs.worker import Handler, JobContext
from liuhen.errors import LiuhenError
from liuhen.words import said
from media import gps, render
from media import probe as probing
from media.errors import MediaError, Unplayable
from media.ffmpeg import tool_version as ffmpeg_tool_version

ACTOR = "system:media"
GPS_SUFFIXES = ("_gpstrail.json", ".nmea", ".gpx")


def _local_original(ctx: JobContext[Archive], ev: Evidence) -> Path:
    """A readable path of the original: the store's own file, or a copy fetched from S3."""
    store = ctx.archive.store
    path_of = getattr(store, "path_of", None)
    if path_of is not None:
        return Path(path_of(ev.store_key))
    dst = ctx.workdir / ("original" + Path(ev.file_name).suffix.lower())
    with store.open(ev.store_key, ev.store_version) as src, open(dst, "wb") as out:
        shutil.copyfileobj(src, out, 4 << 20)
    return dst


def _run_detail(run: Any) -> dict[str, Any]:
    return {"command": list(run.args), "tool_version": run.tool_version, "exit_code": run.exit_code,
            "seconds": round(run.seconds, 3), "timed_out": run.timed_out, "stderr_tail": run.stderr_tail[-800:]}


def _load(ctx: JobContext[Archive]) -> Evidence:
    with ctx.archive.sessions() as db:
        ev = db.get(Evidence, ctx.job.evidence_id)
        if ev is None:
            raise LiuhenError(said(f"证据 {ctx.job.evidence_id} 不存在", f"Evidence {ctx.job.evidence_id} does not exist."), said("无需处理。", "Nothing to do."))
        return ev


def _unplayable(ctx: JobContext[Archive], ev: Evidence, step: str, err: MediaError, run: Any = None) -> None:
    with ctx.commit() as db:
        row = db.get(Evidence, ev.id)
        assert row is not None
        row.playback = "unplayable"
        row.playback_note = err.diagnostics()
        detail: dict[str, Any] = {"reason": err.diagnostics(), "original_untouched": True}
        if run is not None:
            detail.update(_run_detail(run))
        detail["bound"] = bound((EVIDENCE, row))
        ctx.archive.custody.record(db, actor=ACTOR, action=f"{step}_failed", evidence_id=ev.id,
                                   object_sha256=ev.sha256, outcome="failure",
                                   tool="ffprobe" if step == "probe" else "ffmpeg",
                                   tool_version=getattr(run, "tool_version", None) or ffmpeg_tool_version(
                                       "ffprobe" if step == "probe" else "ffmpeg"), detail=detail)


def probe_job(ctx: JobContext[Archive]) -> None:
    ev = _load(ctx)
    name = ev.file_name
    if ev.media_kind in ("sidecar", "other") or name.lower().endswith(GPS_SUFFIXES):
        _probe_sidecar(ctx, ev)
        return
    if ev.media_state in ("broken", "empty"):
        # the intake's structural check already found it cut off or not media at all
        note = note_said(ev.media_note or "")
        _unplayable(ctx, ev, "probe", Unplayable(said(f"{name} 无法播放：{note.zh}", f"{name} cannot be played: {note.en}.")))
        return
    src = _local_original(ctx, ev)
    try:
        p = probing.probe(src, name=name)
    except Unplayable as e:
        _unplayable(ctx, ev, "probe", e, getattr(e, "run", None))
        return
    assert p.run is not None  # probed just now, by ffprobe
    with ctx.commit() as db:
        row = db.get(Evidence, ev.id)
        assert row is not None
        row.duration_s = p.duration_s
        row.width, row.height = (p.video.width, p.video.height) if p.video else (None, None)
        row.video_codec = p.video.codec if p.video else None
        row.audio_codec = p.audio.codec if p.audio else None
        row.probe_json = json.dumps(p.raw, ensure_ascii=False)
        if p.creation_time is not None:
            row.recorded_at = p.creation_time
            row.recorded_at_source = "container"
        elif row.recorded_at is not None and row.recorded_at_source is None:
            row.recorded_at_source = "file_name"
        # the proxy first (the recording is playable once it commits), then posters and thumbnails
        enqueue(db, kind="proxy", evidence_id=ev.id)
        if p.kind in ("video", "audio"):
            enqueue(db, kind="previews", evidence_id=ev.id)
        ctx.archive.custody.record(db, actor=ACTOR, action="probed", evidence_id=ev.id, object_sha256=ev.sha256,
                                   tool="ffprobe", tool_version=p.run.tool_version,
                                   detail={**_run_detail(p.run), "kind": p.kind, "duration_s": p.duration_s,
                                           "browser_safe": p.browser_safe,
                                           "rotation": p.video.rotation if p.video else None,
                                           "bound": bound((EVIDENCE, row))})


def _probe_sidecar(ctx: JobContext[Archive], ev: Evidence) -> None:
    track = None
    problem = None
    if ev.file_name.lower().endswith(GPS_SUFFIXES):
        try:
            track = gps.gps_track(_local_original(ctx, ev))
        except MediaError as e:
            problem = e.diagnostics()
    with ctx.commit() as db:
        row = db.get(Evidence, ev.id)
        assert row is not None
        row.playback = "none"
        row.playback_note = problem
        if track is not None:
            row.gps_json = json.dumps(track, ensure_ascii=False)
        ctx.archive.custody.record(db, actor=ACTOR, action="probed", evidence_id=ev.id, object_sha256=ev.sha256,
                                   outcome="failure" if problem else "success", tool="liuhen-media",
                                   tool_version=liuhen.__version__,
                                   detail={"sidecar": True, "gps_points": len(track) if track else 0,
                                           "problem": problem, "bound": bound((EVIDENCE, row))})


def _prepare(ctx: JobContext[Archive], step: str) -> tuple[Evidence, Path, Path, Any] | None:
    ev = _load(ctx)
    src = _local_original(ctx, ev)
    out = ctx.workdir / "out"
    out.mkdir(exist_ok=True)
    try:
        if ev.probe_json:  # the probe job's report: no second ffprobe for the same bytes
            return ev, src, out, probing.from_report(json.loads(ev.probe_json), name=ev.file_name)
        return ev, src, out, probing.probe(src, name=ev.file_name)
    except (Unplayable, ValueError) as e:
        err = e if isinstance(e, Unplayable) else Unplayable(
            said(f"{ev.file_name} 无法播放：无法读取其存储的探测报告", f"{ev.file_name} cannot be played: its stored probe report could not be read."),
            reason="its stored probe report could not be read")
        _unplayable(ctx, ev, step, err, err.run)
        return None


def proxy_job(ctx: JobContext[Archive]) -> None:
    """The browser copy; the recording is playable as soon as this job commits."""
    prepared = _prepare(ctx, "render")
    if prepared is None:
        return
    ev, src, out, p = prepared
    w = ctx.archive.settings.workers
    try:
        made = render.proxy(src, out, p, max_height=w.proxy_max_height, remux_max_height=w.remux_max_height,
                            encoder=w.encoder, progress=lambda f: ctx.progress(0.95 * f, "proxy"))
    except Unplayable as e:
        _unplayable(ctx, ev, "render", e, e.run)
        return
    _record(ctx, ev, [made], ready=True)


def previews_job(ctx: JobContext[Archive]) -> None:
    """Poster and thumbnail sprite + WebVTT (video), waveform (audio): for scrubbing and search."""
    prepared = _prepare(ctx, "previews")
    if prepared is None:
        return
    ev, src, out, p = prepared
    made: list[render.Rendered] = []
    try:
        if p.kind == "audio":
            made.append(render.waveform(src, out, p))
        elif p.kind == "video":
            ctx.progress(0.05, "poster")
            made.append(render.poster(src, out, p))
            ctx.progress(0.2, "thumbnails")
            made.append(render.thumbnails(src, out, p))
    except Unplayable as e:
        # the recording may still play; only its previews are missing, and the log says why
        with ctx.commit() as db:
            ctx.archive.custody.record(db, actor=ACTOR, action="previews_failed", evidence_id=ev.id,
                                       object_sha256=ev.sha256, outcome="failure", tool="ffmpeg",
                                       tool_version=ffmpeg_tool_version("ffmpeg"),
                                       detail={"reason": e.diagnostics(), **(_run_detail(e.run) if e.run else {})})
        return
    _record(ctx, ev, made, ready=False)


def _record(ctx: JobContext[Archive], ev: Evidence, made: list[Any], *, ready: bool) -> None:
    """Store each derived file like an original, then record them and finish the job, in one transaction."""
    files: list[tuple[str, Path, str, Any, dict[str, Any]]] = []
    for r in made:
        runs = r.run if isinstance(r.run, list) else [r.run]
        extra = {k: (str(v) if isinstance(v, Path) else v) for k, v in r.extra.items()}
        kind = "sprite" if r.kind == "thumbnails" else r.kind
        files.append((kind, r.path, r.mime, runs[0], extra))  # runs[0] made the file
        if "vtt" in r.extra:
            files.append(("vtt", Path(r.extra["vtt"]), "text/vtt", runs[0], {"for": "sprite"}))
    stored = []
    for kind, path, mime, run, extra in files:
        digest, size = hash_file(path)
        # consume: the store may hard-link the job's own file (same disk) instead of copying it;
        # it still re-hashes every byte, and the job's folder is deleted afterwards
        obj = ctx.archive.store.put_file(path, digest, size, consume=True, namespace="derived")
        stored.append((kind, mime, run, extra, digest, size, obj))
    ctx.progress(0.98, "recording")
    with ctx.commit() as db:
        row = db.get(Evidence, ev.id)
        assert row is not None
        existing = _existing_kinds(db, ev.id)
        # playable once this commits: the first derived event binds the evidence row as it is then
        changed = ready and (row.playback, row.playback_note) != ("ready", None)
        if ready:
            row.playback = "ready"
            row.playback_note = None
        for kind, mime, run, extra, digest, size, obj in stored:
            if kind in existing:
                continue
            d = DerivedFile(evidence_id=ev.id, source_sha256=ev.sha256, kind=kind, sha256=digest.hex, size=size,
                            mime=mime, store_key=obj.key, store_version=obj.version, tool="ffmpeg",
                            tool_version=run.tool_version, command=json.dumps(list(run.args)),
                            detail=json.dumps(extra, ensure_ascii=False))
            db.add(d)
            db.flush()
            rows: list[tuple[Any, Any]] = [(DERIVED, d)] + ([(EVIDENCE, row)] if changed else [])
            ctx.archive.custody.record(db, actor=ACTOR, action="derived", evidence_id=ev.id, object_sha256=ev.sha256,
                                       tool="ffmpeg", tool_version=run.tool_version,
                                       detail={**_run_detail(run), "kind": kind, "sha256": digest.hex,
                                               "size": size, "store_key": obj.key, **extra, "bound": bound(*rows)})
            changed = False
        if changed:  # (a retry whose files were all recorded already: the change still gets its event)
            ctx.archive.custody.record(db, actor=ACTOR, action="playable", evidence_id=ev.id, object_sha256=ev.sha256,
                                       tool="liuhen-media", tool_version=liuhen.__version__,
                                       detail={"bound": bound((EVIDENCE, row))})


def _existing_kinds(db: Any, evidence_id: int) -> set[str]:
    from sqlalchemy import select

    return set(db.execute(select(DerivedFile.kind).where(DerivedFile.evidence_id == evidence_id)).scalars())


HANDLERS: dict[str, Handler] = {"probe": probe_job, "proxy": proxy_job, "previews": previews_job}


def warm_up() -> None:
    """Learn ffmpeg's and ffprobe's versions now (each a process start, ~70 ms), so a waiting
    worker's first job does not pay for them. Nothing is raised: a missing tool is the job's to report."""
    for tool in ("ffprobe", "ffmpeg"):
        try:
            ffmpeg_tool_version(tool)
        except MediaError:
            pass




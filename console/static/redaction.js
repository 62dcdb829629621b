/* The redaction editor (console/redaction.py): the proxy with the plan drawn over it.

   The plan is data (redaction/plan.py): tracks of boxes on keyframes ({t, box: [x, y, w, h]}, fractions
   0..1 of the frame), interpolated linearly between keyframes and hidden outside them, and whole
   stretches (video blur/black, audio mute/tone). Every change made here is saved at once as a new
   version (PUT with the version it was made on); a save on a stale version is refused by the API (409),
   said in words, and the newest version is loaded. Jobs (detection, render) are the API's; this page
   shows their progress. Uses console.js (api, el, W, confirmAction, CSRF, PAGE_LANG). */
"use strict";

const RD = {
  root: null, id: null, me: "", planId: null, detail: null, plan: null, version: null,
  selected: null, chain: Promise.resolve(), rangeStart: null, mayEdit: false, mayApprove: false, mayRelease: false,
};
const FRAME = 1 / 25;
const BOX_MIN = 0.005;

function rdClock(s) {
  s = Math.max(0, Number(s) || 0);
  const m = Math.floor(s / 60), r = s - 60 * m;
  return m + ":" + r.toFixed(2).padStart(5, "0");
}

/* as Track.box_at (hold 0): the box at t, or null outside the first and last keyframe */
function boxAt(track, t) {
  const keys = track.keys;
  if (!keys.length || t < keys[0].t - 1e-6 || t > keys[keys.length - 1].t + 1e-6) return null;
  if (t <= keys[0].t) return keys[0].box;
  if (t >= keys[keys.length - 1].t) return keys[keys.length - 1].box;
  let i = 1;
  while (i < keys.length && keys[i].t <= t) i++;
  const a = keys[i - 1], b = keys[i];
  if (b.t === a.t) return b.box;
  const f = (t - a.t) / (b.t - a.t);
  return a.box.map((v, j) => v + (b.box[j] - v) * f);
}

/* where a track is drawn at t: its box, or — for the selected track outside its keyframes — its nearest
   keyframe's box, drawn apart (moving it there adds a keyframe at t and so extends the track) */
function shownBox(track, t) {
  const b = boxAt(track, t);
  if (b || track.id !== RD.selected || !track.keys.length) return b ? {box: b, outside: false} : null;
  const k = t < track.keys[0].t ? track.keys[0] : track.keys[track.keys.length - 1];
  return {box: k.box, outside: true};
}

function clip01(box) {
  let [x, y, w, h] = box;
  x = Math.max(0, Math.min(1 - BOX_MIN, x)); y = Math.max(0, Math.min(1 - BOX_MIN, y));
  w = Math.max(BOX_MIN, Math.min(1 - x, w)); h = Math.max(BOX_MIN, Math.min(1 - y, h));
  return [x, y, w, h].map(v => Math.round(v * 1e6) / 1e6);
}

function span(track) {
  const k = track.keys;
  return k.length ? rdClock(k[0].t) + "–" + rdClock(k[k.length - 1].t) : "—";
}

function newId(prefix) {
  const a = new Uint8Array(5);
  crypto.getRandomValues(a);
  return prefix + Array.from(a, b => b.toString(16).padStart(2, "0")).join("");
}

function rdSay(text, cls, reason) {
  const m = document.getElementById("rd-message");
  m.className = cls || ""; m.textContent = text || "";
  if (reason) m.dataset.reason = reason; else delete m.dataset.reason;
}

function rdRefuse(text, reason) {
  const r = document.getElementById("rd-refusal");
  r.textContent = text || "";
  if (reason) r.dataset.reason = reason; else delete r.dataset.reason;
}

/* ------------------------------------------------------------------ loading and saving */

async function rdLoad() {
  document.getElementById("rd-status").textContent = W("js.rd.loading");
  if (RD.planId === null) {
    const plans = await api("GET", "/api/v1/evidence/" + RD.id + "/redaction");
    const list = Array.isArray(plans) ? plans : (plans.plans || []);
    if (!list.length) { rdNoPlan(); return; }
    RD.planId = list[0].plan_id;
  }
  rdShow(await api("GET", "/api/v1/redaction/" + RD.planId));
}

function rdNoPlan() {
  document.getElementById("rd-status").textContent = W("js.rd.none");
  const box = document.getElementById("rd-create-box"), b = document.getElementById("rd-create");
  box.hidden = false;
  if (b) b.textContent = W("js.rd.create");
  RD.root.dataset.state = "none";
}

function rdShow(detail) {
  RD.detail = detail;
  RD.plan = detail.plan;
  RD.version = detail.version;
  RD.planId = detail.plan_id;
  document.getElementById("rd-create-box").hidden = true;
  RD.root.dataset.planId = String(detail.plan_id);
  RD.root.dataset.version = String(detail.version);
  RD.root.dataset.state = "loaded";
  const undecided = detail.undecided !== undefined ? detail.undecided : RD.plan.tracks.filter(t => t.state === "proposed").length;
  const st = document.getElementById("rd-status");
  st.textContent = W("js.rd.status", {id: detail.plan_id, v: detail.version, sha: String(detail.plan_sha256 || detail.sha256 || "").slice(0, 12), n: undecided});
  st.dataset.undecided = String(undecided);
  if (RD.selected && !RD.plan.tracks.some(t => t.id === RD.selected)) RD.selected = null;
  rdTracks(); rdRanges(); rdDraw(); rdSide();
}

/* save the plan as changed by `change` (a function of a copy of the plan) as a new version */
function rdSave(change, why) {
  RD.chain = RD.chain.then(async () => {
    const copy = JSON.parse(JSON.stringify(RD.plan));
    change(copy);
    rdSay(W("js.rd.saving"), "muted");
    const extra = (document.getElementById("rd-why") || {}).value || "";
    try {
      const d = await rdCall("PUT", "/api/v1/redaction/" + RD.planId,
                             {base_version: RD.version, plan: copy, why: extra.trim() ? why + "：" + extra.trim() : why});
      rdShow(d);
      rdSay(W("js.rd.saved", {v: d.version}), "ok");
      RD.root.dataset.saved = String(d.version);
    } catch (err) {
      if (err.status === 409) {
        await rdLoad().catch(() => {});
        rdSay(RD.version !== null ? W("js.rd.stale", {v: RD.version}) : W("js.rd.stale_plain"), "error", "stale");
      } else { rdSay(W("js.rd.failed", {why: err.message}), "error"); rdDraw(); }
    }
  });
  return RD.chain;
}

/* api() of console.js, with the HTTP status and the error code kept on the error */
async function rdCall(method, url, body) {
  const opts = {method, credentials: "same-origin",
                headers: {"Accept": "application/json", "Accept-Language": PAGE_LANG(), "X-CSRF-Token": CSRF()}};
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(url, opts);
  if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("401"); }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) {
    const e = new Error((data && (data.message || data.detail)) || ("HTTP " + r.status));
    e.status = r.status; e.code = data && data.code;
    throw e;
  }
  return data;
}

/* ------------------------------------------------------------------ the picture */

function rdNow() { const p = document.getElementById("player"); return p ? Math.round(p.currentTime * 1000) / 1000 : 0; }

function rdDraw() {
  const stage = document.getElementById("stage");
  if (!stage || !RD.plan) return;
  const t = rdNow();
  const boxes = [];
  for (const tr of RD.plan.tracks) {
    const shown = shownBox(tr, t);
    if (!shown) continue;
    const b = shown.box;
    const onKey = tr.keys.some(k => Math.abs(k.t - t) < 1e-3);
    const d = el("div", {class: "rd-box st-" + tr.state + (tr.id === RD.selected ? " selected" : "") + (onKey ? " on-key" : "") + (shown.outside ? " outside" : ""),
                         "data-track-id": tr.id, "data-state": tr.state, "data-kind": tr.kind, title: W("js.rd.kind." + tr.kind)});
    d.style.left = (100 * b[0]) + "%"; d.style.top = (100 * b[1]) + "%";
    d.style.width = (100 * b[2]) + "%"; d.style.height = (100 * b[3]) + "%";
    if (RD.mayEdit) d.append(el("span", {class: "rd-handle", "data-handle": "1"}));
    boxes.push(d);
  }
  const ranges = (RD.plan.ranges || []).filter(r => r.kind === "video" && r.start <= t && t <= r.end);
  if (ranges.length) boxes.unshift(el("div", {class: "rd-range-shade " + ranges[0].effect}));
  stage.replaceChildren(...boxes);
  const time = document.getElementById("rd-time");
  time.textContent = rdClock(t); time.dataset.t = String(t);
  const seek = document.getElementById("rd-seek");
  if (seek && document.activeElement !== seek) seek.value = String(t);
}

function rdStage() {
  const stage = document.getElementById("stage"), player = document.getElementById("player");
  let drag = null;  /* {mode: "new"|"move"|"size", track, start: [fx, fy], box, ghost} */
  const frac = (e) => {
    const r = stage.getBoundingClientRect();
    return [Math.max(0, Math.min(1, (e.clientX - r.left) / r.width)), Math.max(0, Math.min(1, (e.clientY - r.top) / r.height))];
  };
  stage.addEventListener("mousedown", (e) => {
    if (!RD.plan || e.button !== 0) return;
    e.preventDefault(); stage.focus();
    player.pause();
    const hit = e.target.closest(".rd-box");
    const p = frac(e);
    if (hit) {
      RD.selected = hit.dataset.trackId; rdTracks();
      if (!RD.mayEdit) { rdDraw(); return; }
      const tr = RD.plan.tracks.find(x => x.id === RD.selected);
      drag = {mode: e.target.dataset.handle ? "size" : "move", track: tr, start: p, box: shownBox(tr, rdNow()).box, el: hit};
      return;
    }
    RD.selected = null; rdTracks();
    if (!RD.mayEdit) { rdDraw(); return; }
    const ghost = el("div", {class: "rd-box ghost", id: "rd-ghost"});
    stage.append(ghost);
    drag = {mode: "new", start: p, box: [p[0], p[1], 0, 0], el: ghost};
  });
  const place = (d, b) => {
    d.el.style.left = (100 * b[0]) + "%"; d.el.style.top = (100 * b[1]) + "%";
    d.el.style.width = (100 * b[2]) + "%"; d.el.style.height = (100 * b[3]) + "%";
  };
  window.addEventListener("mousemove", (e) => {
    if (!drag) return;
    const p = frac(e), dx = p[0] - drag.start[0], dy = p[1] - drag.start[1];
    if (drag.mode === "new") drag.now = [Math.min(p[0], drag.start[0]), Math.min(p[1], drag.start[1]), Math.abs(dx), Math.abs(dy)];
    else if (drag.mode === "move") drag.now = [Math.max(0, Math.min(1 - drag.box[2], drag.box[0] + dx)), Math.max(0, Math.min(1 - drag.box[3], drag.box[1] + dy)), drag.box[2], drag.box[3]];
    else drag.now = [drag.box[0], drag.box[1], Math.max(BOX_MIN, drag.box[2] + dx), Math.max(BOX_MIN, drag.box[3] + dy)];
    place(drag, drag.now);
  });
  window.addEventListener("mouseup", () => {
    const d = drag; drag = null;
    if (!d) return;
    const t = rdNow();
    if (!d.now) { rdDraw(); return; }  /* a click, not a drag */
    if (d.mode === "new") {
      if (d.now[2] < 0.01 || d.now[3] < 0.01) { rdDraw(); return; }
      const id = newId("h-"), kind = (document.getElementById("rd-kind") || {}).value || "face";
      RD.selected = id;
      rdSave((plan) => {
        plan.tracks.push({id, kind, state: "accepted", source: "hand", by: RD.me, why: "", keys: [{t, box: clip01(d.now)}]});
        plan.tracks.sort((a, b) => a.keys[0].t - b.keys[0].t || (a.id < b.id ? -1 : 1));
      }, W("js.rd.why.add", {t: rdClock(t)}));
    } else {
      const id = d.track.id;
      rdSave((plan) => rdSetKey(plan.tracks.find(x => x.id === id), t, clip01(d.now)), W("js.rd.why.key", {t: rdClock(t)}));
    }
  });
  document.addEventListener("keydown", rdKeys);  /* (anywhere on the page but in a field, a button or a dialog) */
}

/* the keyframe of `track` at t: replaced if one is there (within a millisecond), else added in order */
function rdSetKey(track, t, box) {
  const k = track.keys.find(k => Math.abs(k.t - t) < 1e-3);
  if (k) k.box = box;
  else { track.keys.push({t, box}); track.keys.sort((a, b) => a.t - b.t); }
}

async function rdDeleteTrack(id) {
  const tr = RD.plan.tracks.find(x => x.id === id);
  if (!tr) return;
  if (!await confirmAction({title: W("js.rd.del.title"), body: W("js.rd.del.body", {kind: W("js.rd.kind." + tr.kind), span: span(tr)}),
                            go: W("js.rd.del.go")})) return;
  if (RD.selected === id) RD.selected = null;
  return rdSave((plan) => { plan.tracks = plan.tracks.filter(x => x.id !== id); }, W("js.rd.why.del_track", {id}));
}

function rdDeleteKey(id) {
  const t = rdNow(), tr = RD.plan.tracks.find(x => x.id === id);
  if (!tr || !tr.keys.some(k => Math.abs(k.t - t) < 1e-3)) return;
  if (tr.keys.length === 1) return rdDeleteTrack(id);  /* its last keyframe: the whole track, asked first */
  return rdSave((plan) => {
    const x = plan.tracks.find(x => x.id === id);
    x.keys = x.keys.filter(k => Math.abs(k.t - t) >= 1e-3);
  }, W("js.rd.why.del_key", {t: rdClock(t)}));
}

function rdKeys(e) {
  const player = document.getElementById("player");
  if (!player || e.altKey || e.ctrlKey || e.metaKey || ["INPUT", "SELECT", "TEXTAREA", "BUTTON", "A"].includes(e.target.tagName)
      || e.target.closest("dialog")) return;
  if (e.key === " ") { e.preventDefault(); if (player.paused) rdPlay(); else player.pause(); }
  else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
    e.preventDefault();
    const step = (e.shiftKey ? 1 : FRAME) * (e.key === "ArrowLeft" ? -1 : 1);
    rdSeek(player.currentTime + step);
  } else if ((e.key === "Delete" || e.key === "Backspace") && RD.selected && RD.mayEdit) {
    e.preventDefault();
    rdDeleteKey(RD.selected);
  }
}

/* the proxy is read only after POST .../play (one `played` event), as on the evidence page */
let _rdOpened = null;
function rdOpen() {
  const player = document.getElementById("player");
  if (!_rdOpened) {
    _rdOpened = api("POST", player.dataset.play).then((r) => new Promise((resolve) => {
      player.addEventListener("loadedmetadata", () => resolve(r), {once: true});
      player.src = r.src;
      player.load();
    })).then((r) => { RD.root.dataset.media = "ready"; return r; },
      (err) => { _rdOpened = null; rdSay(W("js.rd.failed", {why: err.message}), "error"); throw err; });
  }
  return _rdOpened;
}

async function rdSeek(t) {
  const player = document.getElementById("player");
  await rdOpen();
  const d = player.duration || parseFloat(RD.root.dataset.duration) || 0;
  const to = Math.max(0, Math.min(d, t));
  RD.root.dataset.seeking = "1";
  await new Promise((resolve) => {
    if (Math.abs(player.currentTime - to) < 1e-4) { resolve(); return; }
    player.addEventListener("seeked", resolve, {once: true});
    player.currentTime = to;
  });
  delete RD.root.dataset.seeking;
  rdDraw();
}

async function rdPlay() {
  const player = document.getElementById("player");
  await rdOpen();
  player.play().catch(() => {});
}

function rdPlayer() {
  const player = document.getElementById("player");
  if (!player) return;
  const btn = document.getElementById("rd-play");
  btn.addEventListener("click", () => { if (player.paused) rdPlay(); else player.pause(); });
  player.addEventListener("play", () => { btn.textContent = "❚❚"; btn.title = W("js.rd.pause"); });
  player.addEventListener("pause", () => { btn.textContent = "▶"; btn.title = W("js.rd.play"); });
  btn.title = W("js.rd.play");
  player.addEventListener("timeupdate", rdDraw);
  player.addEventListener("seeked", rdDraw);
  document.getElementById("rd-back-frame").addEventListener("click", () => rdSeek(player.currentTime - FRAME));
  document.getElementById("rd-next-frame").addEventListener("click", () => rdSeek(player.currentTime + FRAME));
  const seek = document.getElementById("rd-seek");
  seek.addEventListener("input", () => rdSeek(parseFloat(seek.value)));
  /* the time the page asks for with ?t= (the evidence page's links), once the proxy is read */
  window.rdSeek = rdSeek;  /* (for a keyboard-less caller: the tests) */
  rdStage();
  let tick = null;  /* while playing, draw each frame (timeupdate comes only a few times a second) */
  player.addEventListener("play", () => { const f = () => { rdDraw(); if (!player.paused) tick = requestAnimationFrame(f); }; tick = requestAnimationFrame(f); });
  player.addEventListener("pause", () => { if (tick) cancelAnimationFrame(tick); rdDraw(); });
}

/* ------------------------------------------------------------------ the lists */

function rdTracks() {
  const body = document.querySelector("#rd-tracks tbody");
  if (!RD.plan) return;
  if (!RD.plan.tracks.length) { body.replaceChildren(el("tr", {}, el("td", {colspan: "7", class: "muted", text: W("js.rd.no_tracks")}))); return; }
  body.replaceChildren(...RD.plan.tracks.map((tr) => {
    const buttons = el("td", {class: "rd-buttons"},
      el("button", {type: "button", class: "secondary rd-seek", text: W("js.rd.seek"), onclick: () => { RD.selected = tr.id; rdSeek(tr.keys[0].t).then(rdTracks); }}));
    if (RD.mayEdit) {
      if (tr.state !== "accepted") buttons.append(el("button", {type: "button", class: "rd-accept", text: W("js.rd.accept"), onclick: () => rdDecide(tr.id, "accepted")}));
      if (tr.state !== "rejected") buttons.append(el("button", {type: "button", class: "secondary rd-reject", text: W("js.rd.reject"), onclick: () => rdDecide(tr.id, "rejected")}));
      buttons.append(el("button", {type: "button", class: "secondary rd-del-key", text: W("js.rd.delete_key"), onclick: () => rdDeleteKey(tr.id)}),
                     el("button", {type: "button", class: "danger rd-del-track", text: W("js.rd.delete_track"), onclick: () => rdDeleteTrack(tr.id)}));
    }
    const keys = el("td", {class: "rd-keys"}, ...tr.keys.map(k => el("button", {type: "button", class: "link rd-key", "data-t": String(k.t),
      text: rdClock(k.t), onclick: () => { RD.selected = tr.id; rdSeek(k.t).then(rdTracks); }})));
    return el("tr", {class: "rd-track" + (tr.id === RD.selected ? " selected" : ""), "data-track-id": tr.id, "data-state": tr.state,
                     "data-source": tr.source, "data-keys": String(tr.keys.length)},
      el("td", {text: W("js.rd.kind." + tr.kind)}), el("td", {class: "state", text: W("js.rd.state." + tr.state)}),
      el("td", {text: span(tr)}), el("td", {text: W("js.rd.source." + tr.source)}),
      el("td", {text: tr.score === undefined || tr.score === null ? "—" : Number(tr.score).toFixed(2)}), keys, buttons);
  }));
}

async function rdDecide(id, state) {
  const why = W(state === "accepted" ? "js.rd.why.accept" : "js.rd.why.reject");
  RD.chain = RD.chain.then(async () => {
    try {
      const d = await rdCall("POST", "/api/v1/redaction/" + RD.planId + "/tracks/" + encodeURIComponent(id), {state, why, base_version: RD.version});
      if (d && d.plan) rdShow(d); else await rdLoad();
      rdSay(W("js.rd.saved", {v: RD.version}), "ok");
      RD.root.dataset.saved = String(RD.version);
    } catch (err) {
      if (err.status === 409) { await rdLoad().catch(() => {}); rdSay(W("js.rd.stale_plain"), "error", "stale"); }
      else rdSay(W("js.rd.failed", {why: err.message}), "error");
    }
  });
  return RD.chain;
}

function rdRanges() {
  const list = document.getElementById("rd-ranges");
  const ranges = RD.plan.ranges || [];
  if (!ranges.length) { list.replaceChildren(el("li", {class: "muted", text: W("js.rd.no_ranges")})); return; }
  list.replaceChildren(...ranges.map(r => el("li", {class: "rd-range", "data-range-id": r.id, "data-kind": r.kind, "data-effect": r.effect},
    el("button", {type: "button", class: "link", text: rdClock(r.start) + "–" + rdClock(r.end), onclick: () => rdSeek(r.start)}), " ",
    el("span", {text: W("js.rd.effect." + r.kind + "." + r.effect)}), " ",
    RD.mayEdit ? el("button", {type: "button", class: "secondary rd-del-range", text: W("js.rd.delete_range"), onclick: () =>
      rdSave((plan) => { plan.ranges = plan.ranges.filter(x => x.id !== r.id); }, W("js.rd.why.del_range", {id: r.id}))}) : null)));
}

function rdRangeForm() {
  const start = document.getElementById("rd-range-start"), end = document.getElementById("rd-range-end");
  if (!start) return;
  start.addEventListener("click", () => { RD.rangeStart = rdNow(); rdSay(W("js.rd.range.from", {t: rdClock(RD.rangeStart)}), "muted"); });
  end.addEventListener("click", () => {
    if (RD.rangeStart === null) { rdSay(W("js.rd.range.need_start"), "error"); return; }
    const a = RD.rangeStart, b = rdNow();
    if (b <= a) { rdSay(W("js.rd.range.too_short"), "error"); return; }
    const [kind, effect] = document.getElementById("rd-range-kind").value.split(":");
    RD.rangeStart = null;
    const id = newId("r-");
    rdSave((plan) => {
      plan.ranges = plan.ranges || [];
      plan.ranges.push({id, kind, start: a, end: b, effect, by: RD.me, why: ""});
      plan.ranges.sort((x, y) => x.start - y.start || (x.id < y.id ? -1 : 1));
    }, W("js.rd.why.range", {a: rdClock(a), b: rdClock(b)}));
  });
}

/* ------------------------------------------------------------------ jobs, approvals, release */

function rdRendersOf(version) { return (RD.detail.renders || []).filter(r => version === undefined || r.version === version); }
/* the approvals, from the versions' record (approved_by, approved_at) */
function rdApprovals() {
  return (RD.detail.versions || []).filter(v => v.approved_by).map(v => ({version: v.version, by: v.approved_by, at: v.approved_at}));
}
function rdApproved(version) { return rdApprovals().some(a => a.version === version); }

/* why approving the current version would be refused, if the page can tell (the API decides in the end) */
function rdApproveRefusal() {
  if (!RD.mayApprove) return ["role", W("js.rd.refuse.role")];
  if (rdApproved(RD.version)) return ["already", W("js.rd.refuse.already")];
  const undecided = RD.detail.undecided !== undefined ? RD.detail.undecided : RD.plan.tracks.filter(t => t.state === "proposed").length;
  if (undecided > 0) return ["undecided", W("js.rd.refuse.undecided", {n: undecided})];
  if ((RD.detail.may_not_approve || []).includes(RD.me)) return ["own", W("js.rd.refuse.own")];
  return null;
}

function rdSide() {
  const d = RD.detail;
  const approvals = document.getElementById("rd-approvals"), renders = document.getElementById("rd-renders");
  const given = rdApprovals();
  approvals.replaceChildren(...(given.length ? given.map(a => el("li", {class: "rd-approval", "data-version": String(a.version)},
    W("js.rd.approval.row", {who: a.by, at: fmtTime(a.at), v: a.version})))
    : [el("li", {class: "muted", text: W("js.rd.approval.none")})]));
  renders.replaceChildren(...((d.renders || []).length ? d.renders.map(r => el("li", {class: "rd-render", "data-render-id": String(r.render_id),
    "data-version": String(r.version), "data-state": r.state},
    W("js.rd.render.row", {id: r.render_id, v: r.version, state: rdJobWord(r)})))
    : [el("li", {class: "muted", text: W("js.rd.render.none")})]));
  const on = (id, yes) => { const b = document.getElementById(id); if (b) b.disabled = !yes; };
  on("rd-detect", true); on("rd-preview", !!document.getElementById("player")); on("rd-render", true);
  on("rd-approve", true);
  const done = rdRendersOf(RD.version).filter(r => r.state === "done");
  on("rd-download", done.length > 0); on("rd-release", done.length > 0);
  const approve = document.getElementById("rd-approve");
  const why = rdApproveRefusal();
  approve.dataset.refusal = why ? why[0] : "";
  if (rdApproved(RD.version)) { rdRefuse(W("js.rd.approved", {v: RD.version}), "approved"); }
}

function rdJobWord(j) {
  const s = j.state || "pending";
  if (s === "running") return typeof j.progress === "number" ? W("js.rd.job.running", {pct: Math.round(100 * j.progress)}) : W("js.rd.job.running_plain");
  if (s === "failed") return W("js.rd.job.failed", {why: j.error || j.last_error || ""});
  return W("js.rd.job." + (s === "done" ? "done" : "pending"));
}

async function rdDetect() {
  const b = document.getElementById("rd-detect"), out = document.getElementById("rd-job");
  b.disabled = true;
  try {
    const asked = await rdCall("POST", "/api/v1/redaction/" + RD.planId + "/detect");
    out.textContent = W("js.rd.detect.started"); out.dataset.job = "detect"; out.dataset.state = "pending";
    for (;;) {
      await new Promise(r => setTimeout(r, 1000));
      const d = await api("GET", "/api/v1/redaction/" + RD.planId, undefined, true);
      const ds = d.detections || [];
      const job = ds.find(x => x.detection_id === asked.detection_id) || ds[ds.length - 1];
      if (!job) continue;
      /* (the state is set last: once it says done, the page shows what the job made) */
      if (job.state === "done") { rdShow(d); out.textContent = W("js.rd.detect.done"); out.dataset.state = "done"; break; }
      out.textContent = rdJobWord(job); out.dataset.state = job.state;
      if (job.state === "failed") break;
    }
  } catch (err) { out.textContent = W("js.rd.failed", {why: err.message}); out.dataset.state = "failed"; }
  b.disabled = false;
}

async function rdPreview() {
  const t = rdNow(), img = document.getElementById("rd-preview-img"), box = document.getElementById("rd-preview-box");
  const url = "/api/v1/redaction/" + RD.planId + "/preview?" + new URLSearchParams({t: String(t), version: String(RD.version)});
  const r = await fetch(url, {credentials: "same-origin", headers: {"Accept-Language": PAGE_LANG()}});
  if (!r.ok) { const d = await r.json().catch(() => null); rdSay(W("js.rd.failed", {why: (d && (d.message || d.detail)) || r.status}), "error"); return; }
  const blob = await r.blob();
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(blob);
  await new Promise((res) => { if (img.complete && img.naturalWidth) res(); else img.onload = res; });
  box.hidden = false; box.dataset.t = String(t); box.dataset.version = String(RD.version);
  document.getElementById("rd-preview-caption").textContent = W("js.rd.preview.for", {v: RD.version, t: rdClock(t)});
}

async function rdRender() {
  const b = document.getElementById("rd-render"), out = document.getElementById("rd-job");
  b.disabled = true;
  try {
    const v = RD.version;
    const started = await rdCall("POST", "/api/v1/redaction/" + RD.planId + "/render", {version: v});
    out.textContent = W("js.rd.render.started", {v}); out.dataset.job = "render"; out.dataset.state = "pending";
    const id = started.render_id;
    for (;;) {
      const r = await api("GET", "/api/v1/redaction/renders/" + id, undefined, true);
      out.textContent = W("js.rd.render.started", {v}) + " " + rdJobWord(r);
      if (r.state === "done" || r.state === "failed") {
        rdShow(await api("GET", "/api/v1/redaction/" + RD.planId));
        out.dataset.state = r.state;  /* (last: once it says done, the page lists the copy) */
        break;
      }
      out.dataset.state = r.state;
      await new Promise(res => setTimeout(res, 1000));
    }
  } catch (err) { out.textContent = W("js.rd.failed", {why: err.message}); out.dataset.state = "failed"; }
  b.disabled = false;
}

async function rdApprove() {
  const why = rdApproveRefusal();
  if (why) { rdRefuse(why[1], why[0]); return; }
  const v = RD.version;
  if (!await confirmAction({title: W("js.rd.approve.title", {v}), body: W("js.rd.approve.body"), go: W("js.rd.approve.go")})) return;
  try {
    await rdCall("POST", "/api/v1/redaction/" + RD.planId + "/approve", {version: v});
    rdShow(await api("GET", "/api/v1/redaction/" + RD.planId));
    rdRefuse(W("js.rd.approve.done", {v}), "approved");
  } catch (err) {  /* the API's own refusal (another's edit the page could not know of, a stale version…) */
    rdRefuse(err.message, err.code || "api");
    await rdLoad().catch(() => {});
  }
}

/* a file the API sends after its checks: fetched with the CSRF header (a download is a custody event,
   never a bare GET), then saved by the browser */
async function rdFetchFile(method, url, body, name) {
  const opts = {method, credentials: "same-origin", headers: {"Accept-Language": PAGE_LANG(), "X-CSRF-Token": CSRF()}};
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(url, opts);
  if (!r.ok) {
    const d = await r.json().catch(() => null);
    const e = new Error((d && (d.message || d.detail)) || ("HTTP " + r.status)); e.status = r.status; e.code = d && d.code;
    throw e;
  }
  const cd = r.headers.get("content-disposition") || "";
  const m = /filename\*=UTF-8''([^;]+)|filename="?([^";]+)"?/i.exec(cd);
  const blob = await r.blob();
  const a = el("a", {href: URL.createObjectURL(blob), download: m ? decodeURIComponent(m[1] || m[2]) : name});
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60000);
}

async function rdDownload() {
  const done = rdRendersOf(RD.version).filter(r => r.state === "done");
  if (!done.length) { rdRefuse(W("js.rd.refuse.no_render", {v: RD.version}), "no_render"); return; }
  const r = done[done.length - 1];
  try {
    await rdFetchFile("GET", "/api/v1/redaction/renders/" + r.render_id + "/download", undefined, "redacted-" + r.render_id + ".mp4");
    rdRefuse(W("js.rd.download.done", {id: r.render_id}), "downloaded");
  } catch (err) {
    rdRefuse(err.status === 409 && !rdApproved(RD.version) ? W("js.rd.refuse.not_approved", {v: RD.version}) + " " + err.message : err.message,
             err.status === 409 ? "not_approved" : (err.code || "api"));
  }
}

async function rdRelease() {
  const done = rdRendersOf(RD.version).filter(r => r.state === "done");
  if (!done.length) { rdRefuse(W("js.rd.refuse.no_render", {v: RD.version}), "no_render"); return; }
  const ids = [done[done.length - 1].render_id];
  try {
    await rdFetchFile("POST", "/api/v1/redaction/release", {render_ids: ids}, "release-" + ids.join("-") + ".zip");
    rdRefuse(W("js.rd.release.done", {n: ids.length}), "released");
  } catch (err) {
    rdRefuse(err.status === 409 && !rdApproved(RD.version) ? W("js.rd.refuse.not_approved", {v: RD.version}) + " " + err.message : err.message,
             err.status === 409 ? "not_approved" : (err.code || "api"));
  }
}

function redactionPage() {
  RD.root = document.getElementById("redaction");
  RD.id = RD.root.dataset.evidenceId; RD.me = RD.root.dataset.me;
  RD.mayEdit = RD.root.dataset.mayEdit === "true" && RD.root.dataset.playable === "true";
  RD.mayApprove = RD.root.dataset.mayApprove === "true"; RD.mayRelease = RD.root.dataset.mayRelease === "true";
  rdPlayer();
  rdRangeForm();
  const on = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener("click", fn); };
  on("rd-create", async () => {
    try { rdShow(await rdCall("POST", "/api/v1/evidence/" + RD.id + "/redaction", {})); }
    catch (err) { rdSay(W("js.rd.failed", {why: err.message}), "error"); }
  });
  on("rd-detect", rdDetect); on("rd-preview", () => rdPreview().catch(err => rdSay(W("js.rd.failed", {why: err.message}), "error")));
  on("rd-render", rdRender); on("rd-approve", rdApprove); on("rd-download", rdDownload); on("rd-release", rdRelease);
  rdLoad().then(() => {
    const player = document.getElementById("player");
    const t = parseFloat(new URLSearchParams(location.search).get("t"));
    if (player) return rdSeek(t >= 0 ? t : 0);
  }).catch((err) => rdSay(W("js.rd.failed", {why: err.message}), "error"));
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page === "redaction") redactionPage();
});

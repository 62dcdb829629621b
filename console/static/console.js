/* liuhen console: a little JavaScript over server-rendered pages. Every call goes to the API
   with the session cookie and the CSRF header; the API checks and records everything. */
"use strict";

const CSRF = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
const PAGE_LANG = () => ((document.querySelector('meta[name="lang"]') || {}).content === "en" ? "en" : "zh-CN");  /* API errors' message in the page's language */

async function api(method, url, body, poll) {
  const opts = {method, credentials: "same-origin", headers: {"Accept": "application/json", "Accept-Language": PAGE_LANG()}};
  if (poll) opts.headers["X-Liuhen-Poll"] = "1";  /* a page refreshing itself is not the user being active */
  if (method !== "GET") opts.headers["X-CSRF-Token"] = CSRF();
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(url, opts);
  if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("401"); }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && (data.message || data.detail)) || ("HTTP " + r.status));
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function json(id) { const s = document.getElementById(id); return s ? JSON.parse(s.textContent) : null; }

/* a word of the page's language from the console's one catalogue (console/words, keys "js.…") */
let _WORDS = null;
/* a sentence the server keeps in both languages ("中文…… / English…", liuhen.errors.as_said) in the
   page's language; any other text as it is */
function inLang(text) {
  const m = /^(.*?[\u3000-\u9fff\uff00-\uffef].*?)\s+\/\s+([A-Za-z`'"(].*)$/s.exec(text || "");
  if (!m) return text;
  return (document.documentElement.lang || "zh").startsWith("en") ? m[2].trim() : m[1].trim();
}

function W(key, vars) {
  if (_WORDS === null) _WORDS = json("liuhen-words") || {};
  let s = Object.prototype.hasOwnProperty.call(_WORDS, key) ? _WORDS[key] : key;
  for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
  return s;
}
/* the word of a code (``js.<prefix>.<code>``), or the code itself where the catalogue has none */
function Wc(prefix, code) { const k = "js." + prefix + "." + code, s = W(k); return s === k ? code : s; }

function human(n) {
  if (n === null || n === undefined) return "—";
  const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}

function bar(done, total, cls) {
  const frac = total > 0 ? Math.min(1, done / total) : (done > 0 ? 1 : 0);
  const pct = Math.round(frac * 1000) / 10;
  const p = el("progress", {class: cls || "", max: "100", value: String(pct), "data-value": String(pct)});
  return el("span", {class: "bar"}, p, el("span", {class: "pct", text: pct.toFixed(1) + "%"}));
}

/* a time as every page shows it: in the station's time zone (body data-tz), "YYYY-MM-DD HH:MM:SS" */
function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const parts = {};
  for (const p of new Intl.DateTimeFormat("en-GB", {timeZone: document.body.dataset.tz || undefined, hourCycle: "h23",
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit"}).formatToParts(d)) parts[p.type] = p.value;
  return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" + parts.minute + ":" + parts.second;
}

/* Ask before an action that cannot be taken back or that goes into the custody log: a modal that
   says in words what will happen. Resolves to null (cancelled: nothing was done) or {reason}.
   opts: title, body, lead, items (a list under the lead), note (under the list), reason (a placeholder: a
   reason is then required), go (the button's word), waiting (a promise of {lead, items, note, go}, shown
   when it comes; the button waits for it). */
function confirmAction(opts) {
  return new Promise((resolve) => {
    const lead = el("p", {class: "confirm-lead"}), list = el("ul", {class: "confirm-items"}), note = el("p", {class: "confirm-note"});
    const reason = opts.reason ? el("textarea", {id: "confirm-reason", rows: "3", maxlength: "2000", placeholder: opts.reason}) : null;
    const err = el("p", {class: "error", id: "confirm-error", role: "alert"});
    const go = el("button", {type: "button", id: "confirm-go", class: "danger", text: opts.go});
    const cancel = el("button", {type: "button", id: "confirm-cancel", class: "secondary", text: W("js.case.cancel")});
    const dlg = el("dialog", {id: "confirm-dialog", class: "confirm", "aria-labelledby": "confirm-title"},
      el("h2", {id: "confirm-title", text: opts.title}), el("p", {class: "confirm-body", text: opts.body}),
      lead, list, note, reason, err, el("div", {class: "actions"}, go, cancel));
    const fill = (o) => {
      lead.textContent = o.lead || "";
      list.replaceChildren(...(o.items || []).map(x => el("li", {text: x})));
      note.textContent = o.note || "";
    };
    fill(opts);
    let done = false;
    const finish = (value) => { if (done) return; done = true; dlg.close(); dlg.remove(); resolve(value); };
    cancel.addEventListener("click", () => finish(null));
    dlg.addEventListener("cancel", (e) => { e.preventDefault(); finish(null); });  /* Esc: as cancel */
    go.addEventListener("click", () => {
      const why = reason ? reason.value.trim() : null;
      if (reason && !why) { err.textContent = W("js.case.reopen.need"); reason.focus(); return; }
      finish({reason: why});
    });
    document.body.append(dlg);
    dlg.showModal();
    if (opts.waiting) {
      go.disabled = true; dlg.dataset.state = "checking";
      opts.waiting.then((r) => { fill(r); if (r.go) go.textContent = r.go; go.disabled = false; dlg.dataset.state = "ready"; },
                        (e) => { err.textContent = W("js.failed", {why: e.message}); dlg.dataset.state = "failed"; });
    } else dlg.dataset.state = "ready";
    (reason || cancel).focus();
  });
}

/* The case picker: search the user's open cases (number, title or party), choose a step, confirm,
   and link every recording in evidenceIds to it (each link a custody event of its recording).
   onDone({linked: [ids], failed: [{id, why}], step_id, case_id}) runs after the links were made.
   Used by the evidence page and by the search page's bulk linking. */
function openCasePicker(evidenceIds, onDone) {
  const ids = Array.from(evidenceIds || []).map(Number).filter(n => n > 0);
  const q = el("input", {id: "pick-q", type: "search", maxlength: "200", placeholder: W("js.case.pick.q"), "aria-label": W("js.case.pick.q")});
  const results = el("div", {id: "pick-results", class: "pick-results"});
  const confirmBox = el("div", {id: "pick-confirm", hidden: true});
  const msg = el("p", {id: "pick-message", role: "status"});
  const cancel = el("button", {type: "button", id: "pick-cancel", class: "secondary", text: W("js.case.cancel")});
  const dlg = el("dialog", {id: "case-picker", class: "confirm picker", "aria-labelledby": "pick-title"},
    el("h2", {id: "pick-title", text: W("js.case.pick.title")}),
    el("p", {class: "muted", text: W("js.case.pick.what", {ids: ids.map(i => "#" + i).join("、")})}),
    el("form", {class: "inline pick-form", onsubmit: (e) => { e.preventDefault(); find(); }},
      q, el("button", {type: "submit", id: "pick-find", text: W("js.case.pick.find")})),
    el("p", {class: "muted small", text: W("js.case.pick.open_only")}), results, confirmBox, msg,
    el("div", {class: "actions"}, cancel));
  const close = () => { dlg.close(); dlg.remove(); };
  cancel.addEventListener("click", close);
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });

  function chosen(c, st) {
    results.hidden = true; confirmBox.hidden = false;
    const go = el("button", {type: "button", id: "pick-go", class: "danger", text: W("js.case.pick.go")});
    const back = el("button", {type: "button", id: "pick-back", class: "secondary", text: W("js.case.pick.back"),
      onclick: () => { confirmBox.hidden = true; results.hidden = false; msg.textContent = ""; }});
    confirmBox.replaceChildren(el("p", {id: "pick-what", text: W("js.case.pick.confirm", {n: ids.length, number: c.number,
      title: c.title, step: st.kind, start: fmtTime(st.started_at), end: fmtTime(st.ended_at)})}), el("div", {class: "actions"}, go, back));
    go.addEventListener("click", async () => {
      go.disabled = true; back.disabled = true; msg.className = ""; msg.textContent = W("js.saving");
      const linked = [], failed = [];
      for (const id of ids) {
        try { await api("POST", "/api/v1/cases/steps/" + st.step_id + "/links", {evidence_id: id}); linked.push(id); }
        catch (err) { failed.push({id, why: err.message}); }
      }
      msg.className = failed.length ? "error" : "ok";
      msg.replaceChildren(W("js.case.pick.done", {n: linked.length}),
        ...failed.map(f => el("div", {class: "pick-failed", text: W("js.case.pick.failed", {id: f.id, why: f.why})})));
      dlg.dataset.state = "done";
      if (!failed.length) close();
      if (onDone) onDone({linked, failed, step_id: st.step_id, case_id: c.case_id});
    });
    go.focus();
  }

  let asked = 0;  /* only the newest search's answer is shown (the first, on opening, may come back last) */
  async function find() {
    const mine = ++asked, query = q.value.trim();
    msg.textContent = ""; dlg.dataset.state = "searching";
    try {
      const found = await api("GET", "/api/v1/cases/steps?" + new URLSearchParams({q: query}));
      if (mine !== asked) return;
      dlg.dataset.q = query;
      results.replaceChildren(...(found.length ? found.map(c => el("div", {class: "pick-case", "data-case-id": c.case_id},
        el("div", {class: "pick-head"}, el("b", {text: c.number}), " " + c.title + " ", el("span", {class: "badge", text: c.category}), " ",
          el("small", {class: "muted", text: c.unit_name + (c.parties.length ? " · " + W("js.case.pick.parties", {names: c.parties.join("、")}) : "")})),
        ...(c.steps.length ? c.steps.map(st => el("div", {class: "pick-step", "data-step-id": st.step_id, "data-kind": st.kind},
          el("span", {text: st.kind + " " + fmtTime(st.started_at) + " – " + fmtTime(st.ended_at)}), " ",
          st.officers.length ? el("small", {class: "muted", text: W("js.case.pick.officers", {names: st.officers.map(n =>
            st.officer_names[n] ? st.officer_names[n] + "（" + n + "）" : n).join("、")})}) : null, " ",
          el("button", {type: "button", class: "mark pick-choose", text: W("js.case.pick.choose"), onclick: () => chosen(c, st)})))
          : [el("p", {class: "muted", text: W("js.case.pick.no_steps")})]))) : [el("p", {class: "muted", id: "pick-none", text: W("js.case.pick.none")})]));
      dlg.dataset.state = "found";
    } catch (err) { msg.className = "error"; msg.textContent = W("js.failed", {why: err.message}); dlg.dataset.state = "failed"; }
  }

  document.body.append(dlg);
  dlg.showModal();
  q.focus();
  find();
  return dlg;
}

/* ------------------------------------------------------------------ dock dashboard */

/* The dock redraws from GET /api/v1/dock every second, and that answer is the stored state (the
   recorder's assignee, each recording's importance and playback as the archive holds them), so
   an action stays visibly done: the redraw shows what was stored, and its confirmation is kept
   beside it for a few seconds across redraws. */
function dockPage() {
  const T = json("dock-words"), officers = json("dock-officers") || [];
  const root = document.getElementById("dock");
  const flashes = new Map();  /* "dev:ID" / "ev:ID" / "no:NO" → {text, cls, until} */
  let editing = false;  // do not redraw while the operator is choosing an officer or typing a name
  const fields = ["SELECT", "INPUT"];
  root.addEventListener("focusin", (e) => { if (fields.includes(e.target.tagName)) editing = true; });
  root.addEventListener("focusout", (e) => { if (fields.includes(e.target.tagName)) editing = false; });

  function flash(key, text, cls) { flashes.set(key, {text, cls: cls || "ok", until: Date.now() + 6000}); }
  function flashed(key) {
    const f = flashes.get(key);
    if (!f) return null;
    if (f.until < Date.now()) { flashes.delete(key); return null; }
    return el("span", {class: f.cls + " flash", "data-flash": key, text: " " + f.text});
  }
  async function act(key, call, done) {
    try { await call(); flash(key, done); } catch (err) { flash(key, W("js.failed", {why: err.message}), "error"); }
    editing = false; refresh();
  }

  function assignBox(bay) {
    if (!T.can_assign || !bay.device_id) return null;
    const current = bay.officer_source === "assigned" ? bay.officer_no : "";
    const sel = el("select", {class: "assign", "data-device": bay.device_id, "aria-label": T.assign},
      el("option", {value: "", text: "— " + T.assign + " —"}),
      ...officers.map(o => el("option", {value: o.officer_no, text: o.name + " (" + o.officer_no + ")",
                                         selected: o.officer_no === current})));
    sel.addEventListener("change", () => {
      const o = officers.find(o => o.officer_no === sel.value);
      act("dev:" + bay.device_id,
          () => api("PUT", "/api/v1/recorders/" + encodeURIComponent(bay.device_id) + "/officer", {officer_no: sel.value || null}),
          o ? W("js.dock.assigned_to", {name: o.name}) : W("js.dock.unassigned_done"));
    });
    return el("span", {}, sel, flashed("dev:" + bay.device_id));
  }

  function unknownBox(station, bay) {
    if (!bay.officer_unknown) return null;
    const no = bay.officer_no;
    const box = el("div", {class: "unknown-officer warn-box", "data-officer-no": no},
      el("b", {text: "⚠ " + W("js.dock.unknown", {no})}), " ");
    if (T.can_assign && bay.device_id) box.append(W("js.dock.unknown_fix_assign"), " ", assignBox(bay), " ");
    if (T.can_add_officer && station.unit_code) {
      const name = el("input", {class: "officer-name", maxlength: "64", placeholder: W("js.dock.name"), "aria-label": W("js.dock.name")});
      const add = el("button", {type: "button", class: "add-officer", text: W("js.dock.add")});
      add.addEventListener("click", () => act("no:" + no,
        () => api("POST", "/api/v1/officers", {officer_no: no, name: name.value.trim(), unit_code: station.unit_code}),
        W("js.dock.added")));
      box.append(W("js.dock.unknown_fix_add", {no}), " ", name, " ", add);
    } else {
      box.append(el("span", {class: "muted", text: W("js.dock.unknown_ask", {no})}));
    }
    box.append(flashed("no:" + no) || "");
    return box;
  }

  function statusCell(f) {
    const td = el("td", {class: "status st-" + f.status});
    let label = T.file[f.status] || f.status;
    if (f.evidence_id && f.status === "duplicate") label = W(f.earlier ? "js.dock.archived_earlier" : "js.dock.duplicate_of", {n: f.evidence_id});
    else if (f.evidence_id && f.status === "archived") label = W("js.dock.archived_as", {n: f.evidence_id});
    else if (f.earlier && f.status === "duplicate") label = W("js.dock.archived_earlier_plain");  /* (no evidence numbers for this role) */
    td.append(el("span", {class: "label", text: label}));
    if (f.empty) {
      td.append(" ", el("span", {class: "badge bad empty", text: W("js.dock.empty")}));
      td.append(el("div", {class: "reason", text: W("js.dock.empty_reason")}));
    } else if (f.media_state === "broken") {
      td.append(" ", el("span", {class: "badge bad broken", text: W("js.dock.broken")}));
      if (f.media_note) td.append(el("div", {class: "reason", text: inLang(f.media_note)}));
    }
    if (!f.empty && f.playback === "unplayable") {
      td.append(" ", el("span", {class: "badge bad unplayable", text: W("js.dock.unplayable")}));
      if (f.playback_note) td.append(el("div", {class: "reason", text: inLang(f.playback_note)}));
    }
    if (f.reason && ["refused", "queued", "interrupted"].includes(f.status)) td.append(el("div", {class: "reason", "data-code": f.reason_code || "", title: inLang(f.reason), text: f.reason_code ? Wc("refusal", f.reason_code) : inLang(f.reason)}));
    return td;
  }

  function markButton(f) {
    const on = f.important === true;
    const b = el("button", {type: "button", class: "mark" + (on ? " on" : ""), "data-evidence": f.evidence_id,
                            "data-important": on ? "true" : "false", "aria-pressed": on ? "true" : "false",
                            text: on ? T.important_on : T.important, title: on ? T.important_off : T.important});
    b.addEventListener("click", () => {
      b.disabled = true;
      act("ev:" + f.evidence_id, () => api("PUT", "/api/v1/evidence/" + f.evidence_id + "/important", {important: !on}),
          W(on ? "js.dock.unmarked" : "js.dock.marked"));
    });
    return b;
  }

  function fileRow(f) {
    const final = ["archived", "duplicate", "refused", "queued", "interrupted"].includes(f.status);
    const cells = [
      el("td", {class: "path", title: f.path, text: f.path}),
      el("td", {}, f.empty ? el("span", {class: "muted", text: "—"}) : bar(final && f.size ? f.size : (f.done || 0), f.size || 0, "file-bar")),
      el("td", {}, human(f.size)),
      statusCell(f),
      el("td", {}),
    ];
    if (f.evidence_id) {
      if (T.can_open) cells[4].append(el("a", {href: "/evidence/" + f.evidence_id, text: "#" + f.evidence_id}), " ");
      if (T.can_mark) cells[4].append(markButton(f), flashed("ev:" + f.evidence_id) || "");
    }
    return el("tr", {class: "file", "data-status": f.status, "data-evidence": f.evidence_id || "",
                     "data-earlier": f.earlier ? "true" : "false", "data-empty": f.empty ? "true" : "false",
                     "data-playback": f.playback || ""}, ...cells);
  }

  function officerText(b) {
    const who = b.officer_name ? b.officer_name + " (" + b.officer_no + ")" : (b.officer_no || T.unassigned);
    const how = b.officer_source === "assigned" ? W("js.dock.assigned_by") : b.officer_source === "file" ? W("js.dock.from_file") : "";
    return T.officer + ": " + who + (b.officer_no ? " " + how : "");
  }

  function clockText(s) {
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0");
  }

  function render(stations) {
    if (editing) return;
    root.replaceChildren();
    if (!stations.length) { root.append(el("p", {class: "muted", text: T.none})); return; }
    for (const s of stations) {
      const box = el("section", {class: "station card", "data-station": s.station_id},
        el("h2", {}, s.station_id + " ", el("span", {class: "badge " + (s.online ? "ok" : "bad"), text: s.online ? T.online : T.offline})));
      if (!s.bays.length) box.append(el("p", {class: "muted", text: T.empty}));
      for (const b of s.bays) {
        const head = el("div", {class: "bay-head"},
          el("b", {text: T.bay + " " + b.bay}), " ",
          el("span", {class: "badge state-" + b.state, text: T.state[b.state] || b.state}), " ",
          el("span", {text: T.recorder + ": " + (b.device_id || "—")}), " ",
          el("span", {class: "officer" + (b.officer_unknown ? " bad" : ""), "data-officer-no": b.officer_no || "",
                      "data-source": b.officer_source || "", text: officerText(b)}), " ",
          b.file_officer_no ? el("small", {class: "muted file-officer", text: W("js.dock.file_names", {no: b.file_officer_no}) + " "}) : null,
          b.officer_unknown ? null : assignBox(b));
        const rate = b.speed_bps !== null && b.speed_bps !== undefined
          ? " · " + W("js.dock.speed", {speed: human(b.speed_bps)}) + (b.eta_s !== null && b.eta_s !== undefined ? " · " + W("js.dock.eta", {t: clockText(b.eta_s)}) : "")
          : "";
        const allDone = b.files_total > 0 && b.files_done === b.files_total && !b.bytes_total;  /* (only empty files) */
        const total = el("div", {class: "bay-total"}, allDone ? bar(1, 1, "bay-bar") : bar(b.bytes_done, b.bytes_total, "bay-bar"),
          el("span", {class: "count", text: " " + b.files_done + " / " + b.files_total + " " + T.files + " · " + human(b.bytes_done) + " / " + human(b.bytes_total)}),
          el("span", {class: "rate", text: rate}));
        const table = el("table", {class: "grid files"}, el("tbody", {}, ...b.files.slice().reverse().map(fileRow)));
        box.append(el("div", {class: "bay", "data-bay": b.bay, "data-state": b.state}, head, unknownBox(s, b), total, table));
      }
      root.append(box);
    }
  }

  async function refresh() {
    try { render(await api("GET", "/api/v1/dock", undefined, true)); }
    catch (err) { if (err.message !== "401") root.prepend(el("p", {class: "error", text: err.message})); }
  }
  refresh();
  setInterval(refresh, 1000);
}

/* ------------------------------------------------------------------ jobs */

function jobsPage() {
  const body = document.querySelector("#jobs tbody");
  async function refresh() {
    const jobs = await api("GET", "/api/v1/jobs", undefined, true);
    body.replaceChildren(...(jobs.length ? jobs.map(j => el("tr", {"data-state": j.state},
      el("td", {text: String(j.job_id)}), el("td", {"data-kind": j.kind, text: Wc("job.kind", j.kind)}),
      el("td", {}, j.evidence_id ? el("a", {href: "/evidence/" + j.evidence_id, text: j.file_name}) : "—"),
      el("td", {class: "state", "data-state": j.state}, Wc("job.state", j.state), j.error && j.state !== "done" ? el("div", {class: "reason", title: j.error, text: W("js.job.error")}) : null),
      el("td", {}, bar(j.progress, 1, "job-bar"), j.note ? " " + Wc("job.note", j.note) : ""))) : [el("tr", {}, el("td", {colspan: "5", text: W("js.jobs.none")}))]));
  }
  refresh().catch(() => {});
  setInterval(() => refresh().catch(() => {}), 1500);
}

/* ------------------------------------------------------------------ evidence page */

function parseVtt(text) {
  const cues = [], t = (s) => { const p = s.trim().split(":").map(Number); return p.length === 3 ? p[0] * 3600 + p[1] * 60 + p[2] : p[0] * 60 + p[1]; };
  const blocks = text.replace(/\r/g, "").split("\n\n");
  for (const b of blocks) {
    const lines = b.split("\n").filter(Boolean), i = lines.findIndex(l => l.includes("-->"));
    if (i < 0 || !lines[i + 1]) continue;
    const [a, z] = lines[i].split("-->"), m = /#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(lines[i + 1]);
    if (m) cues.push({start: t(a), end: t(z.trim().split(" ")[0]), x: +m[1], y: +m[2], w: +m[3], h: +m[4]});
  }
  return cues;
}

async function scrubber(player) {
  const box = document.getElementById("scrub");
  if (!box || !player) return;
  const barEl = box.querySelector(".scrub-bar"), pos = box.querySelector(".scrub-pos"), thumb = box.querySelector(".scrub-thumb");
  const cues = parseVtt(await (await fetch(box.dataset.vtt, {credentials: "same-origin"})).text());
  box.dataset.cues = String(cues.length);
  const duration = () => player.duration || parseFloat(box.dataset.duration) || 0;
  const timeAt = (ev) => { const r = barEl.getBoundingClientRect(); return Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)) * duration(); };
  barEl.addEventListener("mousemove", (ev) => {
    const t = timeAt(ev), c = cues.find(c => t >= c.start && t < c.end) || cues[cues.length - 1];
    if (!c) return;
    thumb.hidden = false;
    thumb.style.width = c.w + "px"; thumb.style.height = c.h + "px";
    thumb.style.backgroundImage = "url(" + box.dataset.sprite + ")";
    thumb.style.backgroundPosition = "-" + c.x + "px -" + c.y + "px";
    thumb.style.left = Math.max(0, ev.clientX - barEl.getBoundingClientRect().left - c.w / 2) + "px";
    thumb.dataset.time = String(c.start);
  });
  barEl.addEventListener("mouseleave", () => { thumb.hidden = true; });
  barEl.addEventListener("click", (ev) => {  /* go to that moment: it plays from there (a play like any other) */
    player.currentTime = timeAt(ev);
    if (!player.querySelector("source")) player.play().catch(() => {});
  });
  player.addEventListener("timeupdate", () => { pos.style.width = (100 * player.currentTime / (duration() || 1)) + "%"; });
}

/* The player reads nothing until playback starts: it has no source until the user presses play.
   The `play` event asks POST .../play (the `played` custody event, this user's play session), and
   only then is the proxy given to the player as a <source> child — which continues the play that
   was asked for (a src attribute would restart the element and cancel it). Once per page. */
function playGate(root, player) {
  const note = document.getElementById("play-note"), button = document.getElementById("play-start");
  let session = null;
  const t = parseFloat(new URLSearchParams(location.search).get("t"));
  if (t >= 0) {  /* opened from a case: it will play from the moment of the step */
    root.dataset.startAt = String(t);
    if (note) note.textContent = W("js.play.from", {t: clock(t)});
    player.addEventListener("loadedmetadata", () => { player.currentTime = t; root.dataset.seekedTo = String(t); }, {once: true});
  }
  function open() {
    if (!session) {
      session = api("POST", player.dataset.play).then((r) => {
        player.append(el("source", {src: r.src, type: r.mime}));
        root.dataset.playing = "1";
        if (button) button.hidden = true;
        if (note) note.textContent = "";
        return r;
      }, (err) => {
        session = null;
        player.pause();
        if (note) { note.className = "error"; note.textContent = W("js.failed", {why: err.message}); }
        throw err;
      });
    }
    return session;
  }
  player.addEventListener("play", () => { open().catch(() => {}); });
  if (button) button.addEventListener("click", () => { player.play().catch(() => {}); });
}

function clock(s) {
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
}

function evidencePage() {
  const root = document.getElementById("evidence"), id = root.dataset.evidenceId, W = json("ev-words");
  const player = document.getElementById("player");
  if (player) {
    player.addEventListener("error", () => { root.dataset.mediaError = String(player.error && player.error.code); });
    if (player.dataset.play) playGate(root, player);
    scrubber(player).catch(() => {});
  }
  const verify = document.getElementById("verify-now"), out = document.getElementById("verify-result");
  if (verify) verify.addEventListener("click", async () => {
    verify.disabled = true; out.className = ""; out.textContent = "…";
    try {
      const r = await api("POST", "/api/v1/evidence/" + id + "/verify");
      out.className = r.ok ? "ok" : "error"; out.textContent = r.ok ? W.ok : W.bad + r.failures.join(" ");
      out.dataset.outcome = r.outcome;
    } catch (err) { out.className = "error"; out.textContent = err.message; }
    verify.disabled = false;
  });
  const tagForm = document.getElementById("tag-form");
  if (tagForm) tagForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("tag-input");
    try {
      const tags = await api("POST", "/api/v1/evidence/" + id + "/tags", {tag: input.value});
      document.getElementById("tags").replaceChildren(...tags.map(t => el("span", {class: "badge tag", text: t})));
      input.value = "";
    } catch (err) { tagForm.append(el("span", {class: "error", text: " " + err.message})); }
  });
  evidenceActions(id);
}

/* The evidence page's custody-relevant actions (the important mark, notes) and its cases: each asks first */
function evidenceActions(id) {
  const imp = document.getElementById("toggle-important");
  if (imp) imp.addEventListener("click", async () => {
    const on = imp.dataset.important !== "true";
    if (!await confirmAction({title: W("js.case.important.title"), body: W(on ? "js.case.important.on" : "js.case.important.off"),
                              go: W("js.case.important.go")})) return;
    try { await api("PUT", "/api/v1/evidence/" + id + "/important", {important: on}); location.reload(); }
    catch (err) { imp.after(el("span", {class: "error", text: " " + err.message})); }
  });
  const noteForm = document.getElementById("note-form");
  if (noteForm) noteForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("note-input"), notes = document.getElementById("notes");
    if (!input.value.trim()) return;
    if (!await confirmAction({title: W("js.case.note.title"), body: W("js.case.note.body"), items: [input.value],
                              go: W("js.case.note.go")})) return;
    try {
      const n = await api("POST", "/api/v1/evidence/" + id + "/notes", {text: input.value});
      notes.append(el("li", {class: "note"}, el("small", {class: "note-by", text: (notes.dataset.me || n.author) + " · " + fmtTime(n.created_at)}), el("br"), n.text));
      input.value = "";
    } catch (err) { noteForm.append(el("span", {class: "error", text: " " + err.message})); }
  });
  const toCase = document.getElementById("link-to-case");
  if (toCase) toCase.addEventListener("click", () => openCasePicker([id], (r) => { if (r.linked.length && !r.failed.length) location.reload(); }));
}

/* ------------------------------------------------------------------ cases */

function localTime(value) {
  /* a datetime-local value is sent without an offset: the archive reads it in the station's time
     zone, the one every page shows times in (as the console's search and the CLI do) */
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) throw new Error(value + "?");
  return value.length === 16 ? value + ":00" : value;
}

function casesPage() {
  const form = document.getElementById("case-form");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const party = document.getElementById("case-party").value.trim();
    try {
      const c = await api("POST", "/api/v1/cases", {
        unit_code: document.getElementById("case-unit").value, category: document.getElementById("case-category").value,
        title: document.getElementById("case-title").value, parties: party ? [{name: party}] : []});
      location.href = "/cases/" + c.case_id;
    } catch (err) { document.getElementById("case-error").textContent = err.message; }
  });
}

function casePage() {
  const root = document.getElementById("case"), id = root.dataset.caseId, words = json("case-words");
  const msg = document.getElementById("case-message");
  const fail = (err) => { if (msg) { msg.className = "error"; msg.textContent = err.message; } else alert(err.message); };
  const reload = () => location.reload();
  document.querySelectorAll("form.link-form").forEach(f => f.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("POST", "/api/v1/cases/steps/" + f.dataset.stepId + "/links", {evidence_id: parseInt(f.querySelector("input").value, 10)}); reload(); }
    catch (err) { f.append(el("span", {class: "error", text: " " + err.message})); }
  }));
  document.querySelectorAll("button.unlink").forEach(b => b.addEventListener("click", async () => {
    if (!await confirmAction({title: W("js.case.unlink.title"), go: W("js.case.unlink.go"), body: W("js.case.unlink.body",
      {id: b.dataset.evidenceId, name: b.dataset.fileName, step: b.dataset.stepKind})})) return;
    try { await api("DELETE", "/api/v1/cases/links/" + b.dataset.linkId); reload(); } catch (err) { fail(err); }
  }));
  document.querySelectorAll("button.suggest").forEach(b => b.addEventListener("click", async () => {
    const box = document.querySelector(".suggestions[data-step-id='" + b.dataset.stepId + "']");
    try {
      const found = await api("GET", "/api/v1/cases/steps/" + b.dataset.stepId + "/suggestions");
      box.replaceChildren(...(found.length ? found.map(ev => el("div", {class: "suggestion", "data-evidence-id": ev.evidence_id},
        el("a", {href: "/evidence/" + ev.evidence_id, text: "#" + ev.evidence_id + " " + ev.file_name}), " ",
        el("small", {text: (ev.officer_name || ev.officer_id || "") + " " + fmtTime(ev.recorded_at)}), " ",
        el("button", {type: "button", class: "mark", text: words.link, onclick: async () => {
          try { await api("POST", "/api/v1/cases/steps/" + b.dataset.stepId + "/links", {evidence_id: ev.evidence_id}); reload(); }
          catch (err) { fail(err); } }}))) : [el("p", {class: "muted", text: words.none})]));
    } catch (err) { fail(err); }
  }));
  const stepForm = document.getElementById("step-form");
  if (stepForm) stepForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await api("POST", "/api/v1/cases/" + id + "/steps", {
        kind: document.getElementById("step-kind").value, started_at: localTime(document.getElementById("step-start").value),
        ended_at: localTime(document.getElementById("step-end").value), place: document.getElementById("step-place").value || null,
        officers: Array.from(document.getElementById("step-officers").selectedOptions).map(o => o.value)});
      reload();
    } catch (err) { fail(err); }
  });
  const recForm = document.getElementById("record-form");
  if (recForm) recForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fd = new FormData();
    fd.append("kind", document.getElementById("record-kind").value);
    const step = document.getElementById("record-step").value;
    if (step) fd.append("step_id", step);
    fd.append("file", document.getElementById("record-file").files[0]);
    try {
      const r = await fetch("/api/v1/cases/" + id + "/records", {method: "POST", body: fd, credentials: "same-origin", headers: {"X-CSRF-Token": CSRF(), "Accept-Language": PAGE_LANG()}});
      const data = await r.json();
      if (!r.ok) throw new Error(data.message || data.detail || ("HTTP " + r.status));
      reload();
    } catch (err) { fail(err); }
  });
  const close = document.getElementById("case-close");
  if (close) close.addEventListener("click", async () => {
    /* the coverage check first (a coverage_checked event: the closer ran it), its open problems listed */
    const waiting = api("GET", "/api/v1/cases/" + id + "/coverage").then((report) => {
      const flagged = report.steps.filter(s => s.flagged);
      return flagged.length
        ? {lead: W("js.case.close.problems", {n: flagged.length}), items: flagged.map(s => s.kind + "（" + fmtTime(s.started_at) + "）：" + s.reason),
           note: W("js.case.close.anyway"), go: W("js.case.close.go_anyway")}
        : {lead: W("js.case.close.ok")};
    });
    if (!await confirmAction({title: W("js.case.close.title"), body: W("js.case.close.body"), lead: W("js.case.close.checking"),
                              go: W("js.case.close.go"), waiting})) return;
    try { await api("POST", "/api/v1/cases/" + id + "/close"); reload(); } catch (err) { fail(err); }
  });
  const reopen = document.getElementById("case-reopen");
  if (reopen) reopen.addEventListener("click", async () => {
    const ok = await confirmAction({title: W("js.case.reopen.title"), body: W("js.case.reopen.body"),
                                    reason: W("js.case.reopen.reason"), go: W("js.case.reopen.go")});
    if (!ok) return;
    try { await api("POST", "/api/v1/cases/" + id + "/reopen", {reason: ok.reason}); reload(); } catch (err) { fail(err); }
  });
}

/* ------------------------------------------------------------------ audit */

function auditPage() {
  const b = document.getElementById("verify-chain"), out = document.getElementById("chain-result");
  if (!b) return;
  b.addEventListener("click", async () => {
    b.disabled = true; out.className = "muted"; out.textContent = W("js.audit.checking"); delete out.dataset.ok;
    try {
      const r = await api("POST", "/api/v1/audit/verify");
      out.dataset.ok = String(r.ok);
      if (r.ok) { out.className = "ok"; out.textContent = W("js.audit.ok", r); }
      else {
        out.className = "error";
        out.replaceChildren(el("p", {text: W("js.audit.bad", {n: r.problems.length, events: r.events})}),
          el("ul", {}, ...r.problems.map(x => el("li", {"data-kind": x.kind},
            (x.seq !== null ? W("js.audit.at_seq", {seq: x.seq}) + "：" : "") + x.detail))));
      }
    } catch (err) { out.className = "error"; out.textContent = W("js.failed", {why: err.message}); }
    b.disabled = false;
  });
}

/* ------------------------------------------------------------------ search: bulk actions */

/* Each bulk action is the API's own per-recording route, called once per selected recording, so each
   recording gets its own custody event and its own answer; the report lists them (done / not done
   and why). */
async function runBulk(what, ids, one) {
  const report = document.getElementById("bulk-report");
  const head = el("li", {class: "muted", text: W("js.search.working", {n: ids.length})});
  report.replaceChildren(head);
  let done = 0, refused = 0;
  for (const id of ids) {
    const row = el("li", {"data-evidence-id": id}, el("a", {href: "/evidence/" + id, text: "#" + id}), " ");
    report.append(row);
    try {
      const extra = await one(id);
      row.dataset.outcome = "done"; row.className = "ok"; row.append(W("js.search.done")); done++;
      if (extra) row.append(" ", extra);
    } catch (err) {
      row.dataset.outcome = "refused"; row.className = "error"; row.append(W("js.search.refused", {why: err.message})); refused++;
    }
  }
  head.textContent = W("js.search.summary", {what, done, refused});
  head.dataset.done = String(done); head.dataset.refused = String(refused);
  report.dataset.finished = "1";
}

/* a small picker of a case step (cases of the user's units whose number or title holds the text) */
async function exportBulk(ids) {
  /* a multi-recording export is a job (POST /api/v1/exports); its page /exports/{id} shows progress */
  const r = await fetch("/api/v1/exports", {method: "POST", credentials: "same-origin",
    headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": CSRF(),
              "Accept-Language": document.documentElement.lang || "zh-CN"},
    body: JSON.stringify({evidence_ids: ids.map(Number), proxies: false})});
  const data = await r.json().catch(() => null);
  const report = document.getElementById("bulk-report");
  if (!r.ok) { report.replaceChildren(el("li", {class: "error", text: (data && (data.message || data.detail)) || ("HTTP " + r.status)})); return; }
  report.replaceChildren(...ids.map(id => el("li", {"data-evidence-id": id, "data-outcome": "done", class: "ok"}, "#" + id + " " + W("js.search.done"))),
    el("li", {}, W("js.search.export_job", {id: data.export_id}), el("a", {id: "export-open", href: "/exports/" + data.export_id, text: W("js.search.export_open")})));
}

function searchPage() {
  const bulk = document.getElementById("bulk");
  if (!bulk) return;
  const picks = () => Array.from(document.querySelectorAll("input.pick"));
  const chosen = () => picks().filter(c => c.checked).map(c => c.value);
  const all = document.getElementById("pick-all"), count = document.getElementById("picked-count");
  const buttons = ["bulk-link", "bulk-tag", "bulk-important", "bulk-export"].map(id => document.getElementById(id)).filter(Boolean);
  const update = () => {
    const n = chosen().length;
    count.textContent = W("js.search.picked", {n}); count.dataset.n = String(n);
    all.checked = n > 0 && n === picks().length; all.indeterminate = n > 0 && n < picks().length;
    for (const b of buttons) b.disabled = n === 0;
  };
  all.addEventListener("change", () => { for (const c of picks()) c.checked = all.checked; update(); });
  for (const c of picks()) c.addEventListener("change", update);
  const on = (id, fn) => { const b = document.getElementById(id); if (b) b.addEventListener("click", fn); };
  on("bulk-link", () => {
    const ids = chosen();
    /* the shared case picker links; this reports per recording */
    openCasePicker(ids, (r) => {
      const report = document.getElementById("bulk-report"), why = new Map((r.failed || []).map(f => [String(f.id), f.why]));
      report.replaceChildren(el("li", {class: "muted", "data-done": String((r.linked || []).length), "data-refused": String(why.size),
        text: W("js.search.summary", {what: W("js.search.what_link", {step: "#" + r.step_id}), done: (r.linked || []).length, refused: why.size})}),
        ...ids.map(id => why.has(String(id))
          ? el("li", {"data-evidence-id": id, "data-outcome": "refused", class: "error"}, "#" + id + " " + W("js.search.refused", {why: why.get(String(id))}))
          : el("li", {"data-evidence-id": id, "data-outcome": "done", class: "ok"}, "#" + id + " " + W("js.search.done"))));
      report.dataset.finished = "1";
    });
  });
  on("bulk-tag", () => {
    const input = document.getElementById("bulk-tag-input"), tag = input.value.trim();
    if (!tag) { document.getElementById("bulk-report").replaceChildren(el("li", {class: "error", text: W("js.search.need_tag")})); return; }
    runBulk(W("js.search.what_tag", {tag}), chosen(), async (id) => {
      const tags = await api("POST", "/api/v1/evidence/" + id + "/tags", {tag});
      const box = document.querySelector(".result[data-evidence-id='" + id + "'] .tags");
      if (box) box.replaceChildren(...Array.from(box.querySelectorAll(".badge:not(.tag)")), ...tags.map(t => el("span", {class: "badge tag", text: t})));
      return null;
    });
  });
  on("bulk-important", () => runBulk(W("js.search.what_important"), chosen(), (id) =>
    api("PUT", "/api/v1/evidence/" + id + "/important", {important: true}).then(() => null)));
  on("bulk-export", () => exportBulk(chosen()));
  update();
}

/* Downloads leave a custody event, so they are never a bare GET a foreign page could trigger: ask
   the API for a one-time link (a POST with the CSRF header), then open it (once, within a minute). */
document.addEventListener("click", async (e) => {
  const a = e.target.closest && e.target.closest("a[data-link]");
  if (!a) return;
  e.preventDefault();
  try { const link = await api("POST", a.dataset.link); location.assign(link.url); }
  catch (err) { alert(err.message); }
});

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "dock") dockPage();
  else if (page === "jobs") jobsPage();
  else if (page === "evidence") evidencePage();
  else if (page === "cases") casesPage();
  else if (page === "case") casePage();
  else if (page === "search") searchPage();
  else if (page === "audit") auditPage();
});

/* exports (console/exports.py): a button with data-export-start='{"case_id": N}' (or evidence_ids)
   starts an export job and opens its page; the page /exports/{id} refreshes its progress bar each
   second and reloads once the export is done or failed (the server then shows the download). */
function _exportSize(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let f = Number(n) || 0, i = 0;
  while (f >= 1024 && i < units.length - 1) { f /= 1024; i++; }
  return i === 0 ? f + " B" : f.toFixed(1) + " " + units[i];
}

document.addEventListener("click", async (e) => {
  const b = e.target.closest && e.target.closest("[data-export-start]");
  if (!b) return;
  e.preventDefault();
  b.disabled = true;
  const old = b.textContent;
  b.textContent = W("js.export.starting");
  try {
    const started = await api("POST", "/api/v1/exports", JSON.parse(b.dataset.exportStart));
    location.assign("/exports/" + started.export_id);
  } catch (err) { b.disabled = false; b.textContent = old; alert(W("js.failed", {why: err.message})); }
});

function exportPage() {
  const box = document.getElementById("export");
  if (!box || !["pending", "running"].includes(box.dataset.state)) return;
  const id = box.dataset.exportId;
  const bar = document.getElementById("export-progress"), bytes = document.getElementById("export-bytes"),
        state = document.getElementById("export-state");
  const tick = async () => {
    let x;
    try { x = await api("GET", "/api/v1/exports/" + id, undefined, true); }
    catch (err) { setTimeout(tick, 2000); return; }
    if (x.bytes_total) { bar.max = x.bytes_total; bar.value = x.bytes_done; }
    bytes.textContent = W("js.export.bytes", {done: _exportSize(x.bytes_done), total: _exportSize(x.bytes_total)});
    state.textContent = W("js.export.state." + x.state);
    box.dataset.state = x.state;
    if (x.state === "pending" || x.state === "running") setTimeout(tick, 1000);
    else location.reload();
  };
  setTimeout(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.dataset.page === "export") exportPage();
});

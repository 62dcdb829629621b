/* liuhen console: a little JavaScript over server-rendered pages. Every call goes to the API
   with the session cookie and the CSRF header; the API checks and records everything. */
"use strict";

const CSRF = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

async function api(method, url, body, poll) {
  const opts = {method, credentials: "same-origin", headers: {"Accept": "application/json"}};
  if (poll) opts.headers["X-Liuhen-Poll"] = "1";  /* a page refreshing itself is not the user being active */
  if (method !== "GET") opts.headers["X-CSRF-Token"] = CSRF();
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(url, opts);
  if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search); throw new Error("401"); }
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && data.detail) || ("HTTP " + r.status));
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
function W(key, vars) {
  if (_WORDS === null) _WORDS = json("liuhen-words") || {};
  let s = Object.prototype.hasOwnProperty.call(_WORDS, key) ? _WORDS[key] : key;
  for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
  return s;
}

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

/* ------------------------------------------------------------------ dock dashboard */

function dockPage() {
  const W = json("dock-words"), officers = json("dock-officers") || [];
  const root = document.getElementById("dock");
  let editing = false;  // do not redraw while the operator is choosing an officer
  root.addEventListener("focusin", (e) => { if (e.target.tagName === "SELECT") editing = true; });
  root.addEventListener("focusout", (e) => { if (e.target.tagName === "SELECT") editing = false; });

  function assignBox(bay) {
    if (!W.can_assign || !bay.device_id) return null;
    const sel = el("select", {class: "assign", "data-device": bay.device_id, "aria-label": W.assign},
      el("option", {value: "", text: "— " + W.assign + " —"}),
      ...officers.map(o => el("option", {value: o.officer_no, text: o.name + " (" + o.officer_no + ")",
                                         selected: o.officer_no === bay.officer_no})));
    sel.addEventListener("change", async () => {
      try {
        await api("PUT", "/api/v1/recorders/" + encodeURIComponent(bay.device_id) + "/officer", {officer_no: sel.value || null});
        sel.after(el("span", {class: "ok flash", text: " " + W.assigned}));
      } catch (err) { sel.after(el("span", {class: "error", text: " " + err.message})); }
      editing = false; refresh();
    });
    return sel;
  }

  function fileRow(f) {
    const cells = [
      el("td", {class: "path", title: f.path, text: f.path}),
      el("td", {}, bar(f.done || 0, f.size || 0, "file-bar")),
      el("td", {}, human(f.size)),
      el("td", {class: "status st-" + f.status, text: W.file[f.status] || f.status}),
      el("td", {}),
    ];
    if (f.reason && ["refused", "queued", "interrupted"].includes(f.status)) cells[3].append(el("div", {class: "reason", text: f.reason}));
    if (f.evidence_id) {
      if (W.can_open) cells[4].append(el("a", {href: "/evidence/" + f.evidence_id, text: "#" + f.evidence_id}), " ");
      if (W.can_mark) cells[4].append(el("button", {type: "button", class: "mark", "data-evidence": f.evidence_id, text: W.important,
        onclick: async (e) => {
          const b = e.currentTarget;
          try { await api("PUT", "/api/v1/evidence/" + f.evidence_id + "/important", {important: true}); b.textContent = W.important_on; b.disabled = true; }
          catch (err) { b.after(el("span", {class: "error", text: " " + err.message})); }
        }}));
    }
    return el("tr", {class: "file", "data-status": f.status}, ...cells);
  }

  function render(stations) {
    if (editing) return;
    root.replaceChildren();
    if (!stations.length) { root.append(el("p", {class: "muted", text: W.none})); return; }
    for (const s of stations) {
      const box = el("section", {class: "station card", "data-station": s.station_id},
        el("h2", {}, s.station_id + " ", el("span", {class: "badge " + (s.online ? "ok" : "bad"), text: s.online ? W.online : W.offline})));
      if (!s.bays.length) box.append(el("p", {class: "muted", text: W.empty}));
      for (const b of s.bays) {
        const head = el("div", {class: "bay-head"},
          el("b", {text: W.bay + " " + b.bay}), " ",
          el("span", {class: "badge state-" + b.state, text: W.state[b.state] || b.state}), " ",
          el("span", {text: W.recorder + ": " + (b.device_id || "—")}), " ",
          el("span", {class: "officer", text: W.officer + ": " + (b.officer_name ? b.officer_name + " (" + b.officer_no + ")" : (b.officer_no || W.unassigned))}), " ",
          assignBox(b));
        const total = el("div", {class: "bay-total"}, bar(b.bytes_done, b.bytes_total, "bay-bar"),
          el("span", {class: "count", text: " " + b.files_done + " / " + b.files_total + " " + W.files + " · " + human(b.bytes_done) + " / " + human(b.bytes_total)}));
        const table = el("table", {class: "grid files"}, el("tbody", {}, ...b.files.slice().reverse().map(fileRow)));
        box.append(el("div", {class: "bay", "data-bay": b.bay, "data-state": b.state}, head, total, table));
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
  const W = json("jobs-words");
  const body = document.querySelector("#jobs tbody");
  async function refresh() {
    const jobs = await api("GET", "/api/v1/jobs", undefined, true);
    body.replaceChildren(...(jobs.length ? jobs.map(j => el("tr", {"data-state": j.state},
      el("td", {text: String(j.job_id)}), el("td", {text: j.kind}),
      el("td", {}, j.evidence_id ? el("a", {href: "/evidence/" + j.evidence_id, text: j.file_name}) : "—"),
      el("td", {}, j.state, j.last_error && j.state !== "done" ? el("div", {class: "reason", text: j.last_error}) : null),
      el("td", {}, bar(j.progress, 1, "job-bar"), j.note ? " " + j.note : ""))) : [el("tr", {}, el("td", {colspan: "5", text: W.none}))]));
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
  barEl.addEventListener("click", (ev) => { player.currentTime = timeAt(ev); });
  player.addEventListener("timeupdate", () => { pos.style.width = (100 * player.currentTime / (duration() || 1)) + "%"; });
}

function evidencePage() {
  const root = document.getElementById("evidence"), id = root.dataset.evidenceId, W = json("ev-words");
  const player = document.getElementById("player");
  if (player) {
    player.addEventListener("error", () => { root.dataset.mediaError = String(player.error && player.error.code); });
    const t = parseFloat(new URLSearchParams(location.search).get("t"));
    if (t >= 0) {  /* opened from a case: the moment of the step */
      const seek = () => { player.currentTime = t; root.dataset.seekedTo = String(t); };
      if (player.readyState >= 1) seek(); else player.addEventListener("loadedmetadata", seek, {once: true});
    }
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
  const imp = document.getElementById("toggle-important");
  if (imp) imp.addEventListener("click", async () => {
    try { await api("PUT", "/api/v1/evidence/" + id + "/important", {important: imp.dataset.important !== "true"}); location.reload(); }
    catch (err) { imp.after(el("span", {class: "error", text: " " + err.message})); }
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
  const noteForm = document.getElementById("note-form");
  if (noteForm) noteForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const input = document.getElementById("note-input");
    try {
      const n = await api("POST", "/api/v1/evidence/" + id + "/notes", {text: input.value});
      document.getElementById("notes").append(el("li", {}, el("small", {text: n.author}), el("br"), n.text));
      input.value = "";
    } catch (err) { noteForm.append(el("span", {class: "error", text: " " + err.message})); }
  });
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
  const root = document.getElementById("case"), id = root.dataset.caseId, W = json("case-words");
  const msg = document.getElementById("case-message");
  const fail = (err) => { if (msg) { msg.className = "error"; msg.textContent = err.message; } else alert(err.message); };
  const reload = () => location.reload();
  document.querySelectorAll("form.link-form").forEach(f => f.addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await api("POST", "/api/v1/cases/steps/" + f.dataset.stepId + "/links", {evidence_id: parseInt(f.querySelector("input").value, 10)}); reload(); }
    catch (err) { f.append(el("span", {class: "error", text: " " + err.message})); }
  }));
  document.querySelectorAll("button.unlink").forEach(b => b.addEventListener("click", async () => {
    try { await api("DELETE", "/api/v1/cases/links/" + b.dataset.linkId); reload(); } catch (err) { fail(err); }
  }));
  document.querySelectorAll("button.suggest").forEach(b => b.addEventListener("click", async () => {
    const box = document.querySelector(".suggestions[data-step-id='" + b.dataset.stepId + "']");
    try {
      const found = await api("GET", "/api/v1/cases/steps/" + b.dataset.stepId + "/suggestions");
      box.replaceChildren(...(found.length ? found.map(ev => el("div", {class: "suggestion", "data-evidence-id": ev.evidence_id},
        el("a", {href: "/evidence/" + ev.evidence_id, text: "#" + ev.evidence_id + " " + ev.file_name}), " ",
        el("small", {text: (ev.officer_name || ev.officer_id || "") + " " + (ev.recorded_at || "")}), " ",
        el("button", {type: "button", class: "mark", text: W.link, onclick: async () => {
          try { await api("POST", "/api/v1/cases/steps/" + b.dataset.stepId + "/links", {evidence_id: ev.evidence_id}); reload(); }
          catch (err) { fail(err); } }}))) : [el("p", {class: "muted", text: W.none})]));
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
      const r = await fetch("/api/v1/cases/" + id + "/records", {method: "POST", body: fd, credentials: "same-origin", headers: {"X-CSRF-Token": CSRF()}});
      const data = await r.json();
      if (!r.ok) throw new Error(data.detail || ("HTTP " + r.status));
      reload();
    } catch (err) { fail(err); }
  });
  const close = document.getElementById("case-close");
  if (close) close.addEventListener("click", async () => { try { await api("POST", "/api/v1/cases/" + id + "/close"); reload(); } catch (err) { fail(err); } });
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
function pickStep(box, onPick) {
  const q = el("input", {id: "picker-q", placeholder: W("js.search.case_q"), "aria-label": W("js.search.case_q")});
  const list = el("div", {id: "picker-list"});
  const find = async () => {
    try {
      const args = {status: "open", limit: "20"};
      if (q.value.trim()) args.q = q.value.trim();
      const cases = await api("GET", "/api/v1/cases?" + new URLSearchParams(args));
      list.replaceChildren(...(cases.length ? cases.map(c => el("div", {class: "picker-case"},
        el("button", {type: "button", class: "link", "data-case-id": c.case_id, text: c.number + " " + c.title, onclick: async () => {
          try {
            const d = await api("GET", "/api/v1/cases/" + c.case_id);
            list.replaceChildren(el("div", {text: c.number + " " + c.title}), el("div", {class: "muted", text: W("js.search.pick_step")}),
              ...(d.steps.length ? d.steps.map(st => el("button", {type: "button", class: "picker-step", "data-step-id": st.step_id,
                text: st.kind + " " + st.started_at.slice(0, 16).replace("T", " "),
                onclick: () => { box.hidden = true; onPick(st.step_id, c.number + " " + st.kind); }})) : [el("p", {class: "muted", text: W("js.search.no_steps")})]));
          } catch (err) { list.replaceChildren(el("p", {class: "error", text: err.message})); }
        }}))) : [el("p", {class: "muted", text: W("js.search.no_cases")})]));
    } catch (err) { list.replaceChildren(el("p", {class: "error", text: err.message})); }
  };
  q.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); find(); } });
  box.replaceChildren(q, " ", el("button", {type: "button", id: "picker-find", text: W("js.search.find_case"), onclick: find}), " ",
    el("button", {type: "button", class: "link", text: W("js.search.cancel"), onclick: () => { box.hidden = true; }}), list);
  box.hidden = false; q.focus(); find();
}

async function exportBulk(ids) {
  /* a multi-recording export is a job (POST /api/v1/exports, page /exports/{id}) where this archive has
     it; without that route, one bag per recording through the one-time export link */
  const r = await fetch("/api/v1/exports", {method: "POST", credentials: "same-origin",
    headers: {"Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": CSRF()},
    body: JSON.stringify({evidence_ids: ids.map(Number), proxies: false})});
  if (r.status !== 404 && r.status !== 405) {
    const data = await r.json().catch(() => null);
    const report = document.getElementById("bulk-report");
    if (!r.ok) { report.replaceChildren(el("li", {class: "error", text: (data && data.detail) || ("HTTP " + r.status)})); return; }
    report.replaceChildren(...ids.map(id => el("li", {"data-evidence-id": id, "data-outcome": "done", class: "ok"}, "#" + id + " " + W("js.search.done"))),
      el("li", {}, W("js.search.export_job", {id: data.export_id}), el("a", {id: "export-open", href: "/exports/" + data.export_id, text: W("js.search.export_open")})));
    return;
  }
  /* MULTI-RECORDING EXPORT PENDING: until /api/v1/exports exists, one link per recording */
  await runBulk(W("js.search.what_export") + (ids.length > 1 ? " " + W("js.search.export_one") : ""), ids, async (id) => {
    const link = await api("POST", "/api/v1/evidence/" + id + "/export/link");
    if (ids.length === 1) { location.assign(link.url); return null; }
    return el("a", {href: link.url, class: "export-link", text: W("js.search.export_link")});
  });
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
    if (typeof openCasePicker === "function") {  /* the shared picker, where there is one: it links, we report */
      openCasePicker(ids, (r) => {
        const report = document.getElementById("bulk-report"), why = new Map((r.failed || []).map(f => [String(f.id), f.why]));
        report.replaceChildren(el("li", {class: "muted", "data-done": String((r.linked || []).length), "data-refused": String(why.size),
          text: W("js.search.summary", {what: W("js.search.what_link", {step: "#" + r.step_id}), done: (r.linked || []).length, refused: why.size})}),
          ...ids.map(id => why.has(String(id))
            ? el("li", {"data-evidence-id": id, "data-outcome": "refused", class: "error"}, "#" + id + " " + W("js.search.refused", {why: why.get(String(id))}))
            : el("li", {"data-evidence-id": id, "data-outcome": "done", class: "ok"}, "#" + id + " " + W("js.search.done"))));
        report.dataset.finished = "1";
      });
      return;
    }
    pickStep(document.getElementById("bulk-picker"), (stepId, label) =>
      runBulk(W("js.search.what_link", {step: label}), ids, (id) =>
        api("POST", "/api/v1/cases/steps/" + stepId + "/links", {evidence_id: parseInt(id, 10)}).then(() => null)));
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

// runner · Live Processes: the page behind `runner run`'s listener.
//
// Three views picked by the URL hash (#/processes, #/process/<pid>,
// #/checks), one refresh timer, and nodes built with createElement and
// textContent only: every string from the API is treated as hostile.
"use strict";

(function () {
  // ---------------------------------------------------------------- setup

  const REFRESH_MS = 2000;
  const FETCH_TIMEOUT_MS = 15000;
  const SEARCH_DEBOUNCE_MS = 200;
  const HISTORY_POINTS = 300;
  const HISTORY_MAX_AGE_S = 600;
  const FACETS = ["user", "container", "tag"];
  const TABS = ["connections", "related"];
  // First click on a column: numbers biggest first, text A to Z.
  const FIRST_DIR = {
    pid: "asc", name: "asc", user: "asc", cpu: "desc", rss: "desc", threads: "desc",
    fds: "desc", start: "desc", container: "asc", command: "asc",
  };

  // What tests and benchmarks read.
  const page = {renders: 0, lastFetchMs: null, lastRenderMs: null, view: "processes"};
  window.runnerPage = page;

  const state = {
    view: "processes",
    list: {q: "", sort: "cpu", dir: "desc", user: "", container: "", tag: ""},
    listData: null,       // last /api/processes answer
    selectedPid: null,    // selected row of the process table
    listScrollTop: 0,
    pid: null,            // process view
    tab: "connections",
    detail: null,         // last /api/processes/<pid> answer for `pid`
    status: null,         // last /status answer
    paused: false,
  };

  let els = null;
  // pid -> {t: [], cpu: [], rss: []}: sparkline points since the page opened.
  const samples = new Map();

  function $(id) { return document.getElementById(id); }

  // ---------------------------------------------------------------- text

  // Control characters, line separators and bidi overrides would fake
  // layout or reorder what is read (Trojan Source): show them as visible
  // escapes, as the CLI does.
  const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
  const UNSAFE_KEEP_NL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

  function escapeChar(c) {
    switch (c) {
      case "\n": return "\\n";
      case "\r": return "\\r";
      case "\t": return "\\t";
      case "\0": return "\\0";
      default: return "\\u{" + c.charCodeAt(0).toString(16) + "}";
    }
  }
  function visible(s) { return s == null ? "" : String(s).replace(UNSAFE, escapeChar); }
  function visibleLines(s) { return s == null ? "" : String(s).replace(UNSAFE_KEEP_NL, escapeChar); }

  // createElement with attributes and children (strings become text nodes).
  function h(tag, attrs, children) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const key of Object.keys(attrs)) {
        const v = attrs[key];
        if (v == null || v === false) continue;
        if (key === "text") el.textContent = v;
        else if (key === "class") el.className = v;
        else el.setAttribute(key, String(v));
      }
    }
    if (children) for (const c of children) if (c != null) el.append(c);
    return el;
  }

  function processHref(pid) {
    return Number.isInteger(pid) && pid >= 0 ? "#/process/" + pid : "#/processes";
  }

  // ---------------------------------------------------------------- formats

  function pad2(n) { return n < 10 ? "0" + n : String(n); }
  function dayKey(d) { return d.getFullYear() + "-" + pad2(d.getMonth() + 1) + "-" + pad2(d.getDate()); }
  function clock(d) { return pad2(d.getHours()) + ":" + pad2(d.getMinutes()) + ":" + pad2(d.getSeconds()); }
  function isNum(v) { return typeof v === "number" && Number.isFinite(v); }

  function fmtBytes(n) {
    if (!isNum(n)) return "-";
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let v = n, i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
    if (i === 0) return Math.round(v) + " B";
    return (v < 100 ? v.toFixed(1) : v.toFixed(0)) + " " + units[i];
  }
  function fmtCpu(v) { return isNum(v) ? v.toFixed(1) : "-"; }
  function fmtNum(v) { return isNum(v) ? String(v) : "-"; }
  function fmtCount(v) { return isNum(v) ? v.toLocaleString() : "-"; }

  // Today: HH:MM:SS; before: YYYY-MM-DD HH:MM.
  function fmtStart(sec, today) {
    if (!isNum(sec)) return "-";
    const d = new Date(sec * 1000);
    const day = dayKey(d);
    return day === today ? clock(d) : day + " " + pad2(d.getHours()) + ":" + pad2(d.getMinutes());
  }
  function fmtDateTime(sec) {
    if (!isNum(sec)) return "-";
    const d = new Date(sec * 1000);
    return dayKey(d) + " " + clock(d);
  }
  function fmtSpan(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
  }
  function fmtAgo(seconds) {
    if (!isNum(seconds)) return "never";
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }
  function shortId(id) { return id ? String(id).slice(0, 12) : ""; }
  function userText(p) {
    if (p.user != null) return visible(p.user);
    return p.uid != null ? String(p.uid) : "-";
  }

  // ---------------------------------------------------------------- banner

  function showBanner(kind, nodes) {
    els.banner.className = "banner " + kind;
    els.banner.replaceChildren(...nodes);
    els.banner.hidden = false;
    els.updated.classList.add("stale");
  }
  function clearBanner() {
    if (!els.banner.hidden) { els.banner.hidden = true; els.banner.replaceChildren(); }
    els.updated.classList.remove("stale");
  }
  function showAuthBanner() {
    showBanner("auth", ["This runner needs its access token. ", h("a", {href: "/login", text: "Enter the token"})]);
  }
  function showErrorBanner(message) {
    const since = els.updated.textContent ? " (showing data " + els.updated.textContent + ")" : "";
    showBanner("error", [visible(message) + since]);
  }
  function markUpdated() {
    els.updated.textContent = "updated " + clock(new Date());
  }

  // ---------------------------------------------------------------- fetching

  let inFlight = null; // AbortController of the request under way

  function urlForView() {
    if (state.view === "process") return "/api/processes/" + state.pid;
    if (state.view === "checks") return "/status";
    const params = [];
    const q = state.list.q.trim();
    if (q) params.push("q=" + encodeURIComponent(q));
    for (const f of FACETS) if (state.list[f]) params.push(f + "=" + encodeURIComponent(state.list[f]));
    return "/api/processes" + (params.length ? "?" + params.join("&") : "");
  }

  // Fetch what the current view shows. A newer request aborts an older
  // one: its answer (old search, other view) would be stale anyway.
  async function refresh() {
    if (inFlight) inFlight.abort();
    const controller = new AbortController();
    inFlight = controller;
    const view = state.view, pid = state.pid, url = urlForView();
    const started = performance.now();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; controller.abort(); }, FETCH_TIMEOUT_MS);
    let res = null, data = null;
    try {
      res = await fetch(url, {credentials: "same-origin", signal: controller.signal, headers: {Accept: "application/json"}});
      data = await readJson(res);
    } catch (err) {
      if (inFlight !== controller) return; // superseded: a newer request owns the screen
      inFlight = null;
      showErrorBanner(timedOut ? "The runner did not answer within " + FETCH_TIMEOUT_MS / 1000 + " s"
        : "Cannot reach the runner: " + (err && err.message ? err.message : String(err)));
      return;
    } finally {
      clearTimeout(timer);
    }
    if (inFlight !== controller) return;
    inFlight = null;
    if (view !== state.view || pid !== state.pid) return;
    page.lastFetchMs = performance.now() - started;
    handleResponse(view, res, data);
  }

  // The body as JSON, or null when it is not JSON.
  async function readJson(res) {
    const text = await res.text();
    try { return JSON.parse(text); } catch (_) { return null; }
  }

  function handleResponse(view, res, data) {
    const parsedAt = performance.now();
    if (res.status === 401) { showAuthBanner(); return; }
    if (view === "process" && res.status === 404) {
      clearBanner();
      markUpdated();
      guarded(() => renderProcessGone(data && data.error ? data.error : "no process " + state.pid + " on this host"), parsedAt);
      return;
    }
    if (!res.ok || !data || typeof data !== "object") {
      const why = data && data.error ? ": " + data.error : res.ok ? ": the answer is not JSON" : "";
      showErrorBanner("The runner answered HTTP " + res.status + why);
      return;
    }
    clearBanner();
    markUpdated();
    if (view === "processes") {
      state.listData = data;
      guarded(() => { recordList(data); renderProcesses(); }, parsedAt);
    } else if (view === "process") {
      state.detail = data;
      guarded(() => { recordDetail(data); renderProcess(); }, parsedAt);
    } else {
      state.status = data;
      guarded(renderChecks, parsedAt);
    }
  }

  // Run a render, count it, time it from `since`; an unexpected shape in
  // the data shows in the banner instead of as an uncaught error.
  function guarded(render, since) {
    const t0 = since == null ? performance.now() : since;
    try {
      render();
    } catch (err) {
      showErrorBanner("The page could not show this answer: " + (err && err.message ? err.message : String(err)));
      return;
    }
    page.lastRenderMs = performance.now() - t0;
    page.renders += 1;
  }

  // One timer for the whole page; a tick is skipped while a request is
  // under way, while paused, and while the tab is hidden.
  function tick() {
    if (state.paused || inFlight || document.hidden) return;
    refresh().catch(() => {});
  }

  function refreshNow() { refresh().catch(() => {}); }

  // ---------------------------------------------------------------- history

  function record(p, time) {
    if (!p || !Number.isInteger(p.pid)) return;
    let hst = samples.get(p.pid);
    if (!hst) { hst = {t: [], cpu: [], rss: []}; samples.set(p.pid, hst); }
    const n = hst.t.length;
    if (n && hst.t[n - 1] >= time) return; // same snapshot seen through another endpoint
    hst.t.push(time);
    hst.cpu.push(isNum(p.cpu_percent) ? p.cpu_percent : null);
    hst.rss.push(isNum(p.rss) ? p.rss : null);
    // Trim in batches so a push is not an O(n) shift every time.
    if (hst.t.length > HISTORY_POINTS + 30) {
      const cut = hst.t.length - HISTORY_POINTS;
      hst.t.splice(0, cut); hst.cpu.splice(0, cut); hst.rss.splice(0, cut);
    }
  }

  let recordCount = 0;
  function recordList(data) {
    const time = isNum(data.time) ? data.time : Date.now() / 1000;
    for (const p of data.processes || []) record(p, time);
    // Forget processes not seen for a while (gone, or filtered out).
    if (++recordCount % 30 === 0) {
      for (const [pid, hst] of samples) {
        if (pid !== state.pid && time - hst.t[hst.t.length - 1] > HISTORY_MAX_AGE_S) samples.delete(pid);
      }
    }
  }
  function recordDetail(data) {
    record(data.process, isNum(data.time) ? data.time : Date.now() / 1000);
  }

  // ---------------------------------------------------------------- routing

  function parseHash(hash) {
    const raw = (hash || "").replace(/^#/, "");
    const qi = raw.indexOf("?");
    const path = qi < 0 ? raw : raw.slice(0, qi);
    const params = new URLSearchParams(qi < 0 ? "" : raw.slice(qi + 1));
    const m = /^\/process\/(\d+)\/?$/.exec(path);
    if (m) return {view: "process", pid: Number(m[1]), params};
    if (/^\/checks\/?$/.test(path)) return {view: "checks", params};
    return {view: "processes", params};
  }

  function listHash() {
    const p = new URLSearchParams();
    if (state.list.q) p.set("q", state.list.q);
    p.set("sort", state.list.sort);
    p.set("dir", state.list.dir);
    for (const f of FACETS) if (state.list[f]) p.set(f, state.list[f]);
    return "#/processes?" + p.toString();
  }

  // Search, sort and facets live in the hash; replaceState, so typing does
  // not fill the browser history.
  function syncListHash() {
    const hash = listHash();
    els.back.setAttribute("href", hash);
    if (state.view === "processes" && location.hash !== hash) {
      history.replaceState(null, "", hash);
      routedHash = location.hash;
    }
  }

  function go(hash) {
    if (location.hash !== hash) history.pushState(null, "", hash);
    route();
  }

  // Links fire both hashchange and popstate: route once per new hash.
  let routedHash = null;
  function onLocationChange() {
    if (location.hash !== routedHash) route();
  }

  function applyListParams(params) {
    const l = state.list;
    l.q = params.get("q") || "";
    const sort = params.get("sort");
    l.sort = Object.prototype.hasOwnProperty.call(FIRST_DIR, sort) ? sort : "cpu";
    const dir = params.get("dir");
    l.dir = dir === "asc" || dir === "desc" ? dir : (sort ? FIRST_DIR[l.sort] : "desc");
    for (const f of FACETS) l[f] = params.get(f) || "";
    if (els.search.value !== l.q) els.search.value = l.q;
    els.back.setAttribute("href", listHash());
  }

  function route() {
    routedHash = location.hash;
    const r = parseHash(location.hash);
    const from = state.view;
    if (from === "processes" && r.view !== "processes") state.listScrollTop = els.processesScroll.scrollTop;
    state.view = r.view;
    page.view = r.view;
    showView(r.view);

    if (r.view === "processes") {
      const before = urlForView();
      const sortBefore = state.list.sort + state.list.dir;
      // "#/processes" alone (the nav link) keeps the current search.
      if (r.params.toString()) applyListParams(r.params);
      else if (location.hash) syncListHash();
      if (from !== "processes") {
        els.processesScroll.scrollTop = state.listScrollTop;
        focusSelectedRow();
      }
      if (state.listData && sortBefore !== state.list.sort + state.list.dir) guarded(renderProcesses);
      else if (state.listData) renderSortHeaders();
      if (from !== "processes" || before !== urlForView() || !state.listData) refreshNow();
    } else if (r.view === "process") {
      const tab = r.params.get("tab");
      if (r.pid !== state.pid) openProcess(r.pid);
      setTab(TABS.includes(tab) ? tab : "connections", false);
      refreshNow();
    } else {
      if (state.status) guarded(renderChecks);
      refreshNow();
    }
  }

  function showView(view) {
    els.processesView.hidden = view !== "processes";
    els.processView.hidden = view !== "process";
    els.checksView.hidden = view !== "checks";
    const onChecks = view === "checks";
    setCurrent(els.navProcesses, !onChecks);
    setCurrent(els.navChecks, onChecks);
  }
  function setCurrent(link, on) {
    if (on) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }

  // ---------------------------------------------------------------- table rows & keyboard

  // The rows the arrow keys walk in the current view.
  function navRows() {
    if (state.view === "processes") return rowOrder || [];
    const scope = state.view === "checks" ? els.checksTbody : (state.tab === "related" ? els.panelRelated : els.panelConnections);
    return Array.from(scope.querySelectorAll("tbody tr[tabindex]"));
  }

  function selectedRow() {
    if (state.view === "processes") {
      const e = state.selectedPid != null ? rowCache.get(state.selectedPid) : null;
      return e ? e.tr : null;
    }
    const rows = navRows();
    return rows.find((tr) => tr.classList.contains("selected")) || null;
  }

  // Select `tr`: class `selected`, the one tab stop of its table, focus.
  function selectRow(tr, scroll) {
    const tbody = tr.parentNode;
    if (tbody === els.processesTbody) {
      state.selectedPid = Number(tr.dataset.pid);
      applyProcessSelection();
    } else {
      // The tables of a tab share one selection.
      const scope = tbody.closest(".panel") || tbody;
      for (const old of scope.querySelectorAll("tr.selected")) if (old !== tr) old.classList.remove("selected");
      const stop = tbody.querySelector('tr[tabindex="0"]');
      if (stop && stop !== tr) stop.tabIndex = -1;
      tr.classList.add("selected");
      tr.tabIndex = 0;
    }
    tr.focus({preventScroll: true});
    if (scroll) tr.scrollIntoView({block: "nearest"});
  }

  function moveSelection(delta) {
    const rows = navRows();
    if (!rows.length) return false;
    const cur = selectedRow();
    let i = cur ? rows.indexOf(cur) : -1;
    if (i < 0) i = delta > 0 ? -1 : rows.length; // nothing selected: start from an edge
    i = Math.max(0, Math.min(rows.length - 1, i + delta));
    selectRow(rows[i], true);
    return true;
  }

  function focusSelectedRow() {
    const tr = selectedRow();
    if (tr) tr.focus({preventScroll: true});
  }

  // Rows open a process: their own pid, or a connection group's first
  // remote process.
  function openRow(tr) {
    const link = tr.dataset.pid ? null : tr.querySelector("a[data-pid]");
    const pid = tr.dataset.pid || (link && link.dataset.pid);
    if (!pid) return false;
    go(processHref(Number(pid)));
    return true;
  }

  function isEditable(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !/^(button|checkbox|radio|submit|reset)$/.test(el.type);
  }

  function onKeyDown(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const target = e.target;
    if (target === els.search) {
      if (e.key === "ArrowDown") { e.preventDefault(); if (rowOrder && rowOrder.length) selectRow(rowOrder[0], true); }
      else if (e.key === "Enter") { e.preventDefault(); flushSearch(); }
      return;
    }
    if (isEditable(target)) return;
    if (target.getAttribute && target.getAttribute("role") === "tab" && (e.key === "ArrowLeft" || e.key === "ArrowRight")) {
      e.preventDefault();
      const next = state.tab === "connections" ? "related" : "connections";
      setTab(next, true);
      (next === "related" ? els.tabRelated : els.tabConnections).focus();
      return;
    }
    switch (e.key) {
      case "/":
        e.preventDefault();
        focusSearch();
        break;
      case "ArrowDown":
      case "ArrowUp":
        if (moveSelection(e.key === "ArrowDown" ? 1 : -1)) e.preventDefault();
        break;
      case "PageDown":
      case "PageUp":
        if (target.tagName === "TR" && moveSelection(e.key === "PageDown" ? 20 : -20)) e.preventDefault();
        break;
      case "Home":
      case "End":
        if (target.tagName === "TR" && moveSelection(e.key === "End" ? 1e9 : -1e9)) e.preventDefault();
        break;
      case "Enter": {
        if (target.tagName === "A" || target.tagName === "BUTTON") return; // their own action
        const tr = target.tagName === "TR" ? target : selectedRow();
        if (tr && openRow(tr)) e.preventDefault();
        break;
      }
      case "Escape":
        if (state.view === "process") { e.preventDefault(); go(listHash()); }
        break;
    }
  }

  function focusSearch() {
    if (state.view !== "processes") go(listHash());
    els.search.focus();
    els.search.select();
  }

  // A click on a row opens it, unless the user was selecting text to copy.
  function onRowClick(e) {
    if (e.button !== 0 || e.target.closest("a, button")) return;
    const tr = e.target.closest("tbody tr[tabindex]");
    if (!tr) return;
    const sel = window.getSelection();
    if (sel && !sel.isCollapsed && tr.contains(sel.anchorNode)) return;
    selectRow(tr, false);
    openRow(tr);
  }

  // Replace a small table's rows, keeping the selected row (by key) and
  // its focus. Skipped when nothing changed, so text selections survive.
  const tableSigs = new Map();
  function rowKey(tr) {
    const d = tr.dataset;
    return d.pid || d.remote || d.port || d.instance || "";
  }
  function fillTbody(tbody, items, buildRow, emptyText, colspan, sigExtra) {
    const sig = JSON.stringify(items) + (sigExtra || "");
    if (tableSigs.get(tbody) === sig) return;
    tableSigs.set(tbody, sig);
    const rows = items.map(buildRow);
    const prev = tbody.querySelector("tr.selected");
    const key = prev ? rowKey(prev) : null;
    const hadFocus = prev && prev === document.activeElement;
    const list = rows.length ? rows : [h("tr", null, [h("td", {class: "empty", colspan, text: emptyText})])];
    tbody.replaceChildren(...list);
    if (!rows.length) return;
    const again = key ? rows.find((tr) => rowKey(tr) === key) : null;
    if (again) {
      again.classList.add("selected");
      again.tabIndex = 0;
      if (hadFocus) again.focus({preventScroll: true});
    } else {
      rows[0].tabIndex = 0;
    }
  }

  // ---------------------------------------------------------------- processes view

  const collator = new Intl.Collator(undefined, {numeric: true, sensitivity: "base"});
  const SORT_VALUE = {
    pid: (p) => p.pid,
    name: (p) => p.name,
    user: (p) => (p.user != null ? p.user : p.uid != null ? String(p.uid) : null),
    cpu: (p) => p.cpu_percent,
    rss: (p) => p.rss,
    threads: (p) => p.threads,
    fds: (p) => p.open_fds,
    start: (p) => p.start_time,
    container: (p) => p.container_id,
    command: (p) => p.command,
  };

  // Sorted copy: unknown (null) values last in both directions, ties by pid.
  function sortProcesses(list, key, dir) {
    const get = SORT_VALUE[key] || SORT_VALUE.cpu;
    const sign = dir === "asc" ? 1 : -1;
    const items = list.map((p) => ({p, v: get(p)})); // decorate: one lookup per row
    items.sort((a, b) => {
      const av = a.v, bv = b.v;
      const an = av == null, bn = bv == null;
      if (an || bn) return an && bn ? a.p.pid - b.p.pid : an ? 1 : -1;
      const c = typeof av === "string" || typeof bv === "string" ? collator.compare(String(av), String(bv)) : av - bv;
      return c !== 0 ? c * sign : a.p.pid - b.p.pid;
    });
    return items.map((it) => it.p);
  }

  // Columns of the process table. `raw` picks what a cell depends on, so
  // an unchanged row costs a comparison, not a DOM write.
  const COLUMNS = [
    {cls: "num pid", raw: (p) => p.pid, text: (v) => String(v)},
    {cls: "name", raw: (p) => p.name, text: (v) => visible(v), title: true},
    {cls: "user", raw: (p) => (p.user != null ? p.user : p.uid), text: (v) => (v == null ? "-" : visible(v)), title: true},
    {cls: "num cpu", raw: (p) => p.cpu_percent, text: fmtCpu, bar: (v) => (isNum(v) ? Math.min(100, v) / 100 : 0)},
    {cls: "num rss", raw: (p) => p.rss, text: fmtBytes},
    {cls: "num threads", raw: (p) => p.threads, text: fmtNum},
    {cls: "num fds", raw: (p) => p.open_fds, text: fmtNum},
    {cls: "num start", raw: (p) => p.start_time, text: fmtStart},
    {cls: "container", raw: (p) => p.container_id, text: (v) => (v ? visible(shortId(v)) : ""), title: (v) => (v ? visible(v) : "")},
    {cls: "cmd", raw: (p) => p.command, text: (v) => visible(v), title: true},
  ];

  const START_COLUMN = 7;
  const RSS_COLUMN = 4;
  const rowCache = new Map(); // pid -> {tr, cells, raw, memPct, gen}
  let rowOrder = null;        // row elements in the order shown (null: the "none" row is shown)
  let rowsDay = "";
  let renderGen = 0;

  function createRow(pid) {
    const tr = document.createElement("tr");
    tr.dataset.pid = String(pid);
    tr.tabIndex = -1;
    tr.setAttribute("role", "row"); // CSS flex rows: say it is still a table
    const cells = new Array(COLUMNS.length);
    for (let i = 0; i < COLUMNS.length; i++) {
      const td = document.createElement("td");
      td.className = COLUMNS[i].cls;
      td.setAttribute("role", "cell");
      cells[i] = td;
    }
    tr.append(...cells);
    return {tr, cells, raw: new Array(COLUMNS.length).fill(undefined), gen: 0};
  }

  function updateRow(entry, p, today) {
    for (let i = 0; i < COLUMNS.length; i++) {
      const col = COLUMNS[i];
      const v = col.raw(p);
      if (entry.raw[i] === v && v !== undefined) continue;
      entry.raw[i] = v;
      const td = entry.cells[i];
      const text = col.text(v, today);
      td.textContent = text;
      if (col.title) td.title = typeof col.title === "function" ? col.title(v) : text;
      if (col.bar) td.style.setProperty("--f", col.bar(v));
    }
    // The RSS cell's bar shows memory_percent.
    if (entry.memPct !== p.memory_percent) {
      entry.memPct = p.memory_percent;
      entry.cells[RSS_COLUMN].style.setProperty("--f", isNum(p.memory_percent) ? Math.min(100, p.memory_percent) / 100 : 0);
    }
  }

  function renderProcesses() {
    const data = state.listData;
    if (!data) return;
    const procs = Array.isArray(data.processes) ? data.processes : [];
    setHostname(data.hostname);
    els.count.textContent = (isNum(data.matched) ? data.matched : procs.length) + " of " + (isNum(data.total) ? data.total : procs.length) + " processes";
    renderFacets(data.facets || {});
    renderSortHeaders();
    renderRows(sortProcesses(procs, state.list.sort, state.list.dir));
  }

  function renderRows(sorted) {
    const today = dayKey(new Date());
    if (today !== rowsDay) { // "today" moved: every start time may read differently
      rowsDay = today;
      for (const e of rowCache.values()) e.raw[START_COLUMN] = undefined;
    }
    const gen = ++renderGen;
    const order = new Array(sorted.length);
    for (let i = 0; i < sorted.length; i++) {
      const p = sorted[i];
      let e = rowCache.get(p.pid);
      if (!e) { e = createRow(p.pid); rowCache.set(p.pid, e); }
      updateRow(e, p, today);
      e.gen = gen;
      order[i] = e.tr;
    }
    for (const [pid, e] of rowCache) if (e.gen !== gen) rowCache.delete(pid);

    const tbody = els.processesTbody;
    if (!order.length) {
      const msg = state.list.q || FACETS.some((f) => state.list[f]) ? "No process matches" : "No processes";
      tbody.replaceChildren(h("tr", {role: "row"}, [h("td", {class: "empty", role: "cell", colspan: COLUMNS.length, text: msg})]));
      rowOrder = null;
    } else if (!sameOrder(order, rowOrder)) {
      // Moving a focused row drops its focus: put it back.
      const focused = document.activeElement && document.activeElement.parentNode === tbody ? document.activeElement : null;
      tbody.replaceChildren(...order);
      rowOrder = order;
      if (focused && focused.isConnected) focused.focus({preventScroll: true});
    }
    applyProcessSelection();
  }

  function sameOrder(a, b) {
    if (!b || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  // Keep `selected` on the selected pid and one row as the tab stop.
  let selectedTr = null, tabStopTr = null;
  function applyProcessSelection() {
    const e = state.selectedPid != null ? rowCache.get(state.selectedPid) : null;
    const sel = e ? e.tr : null;
    if (selectedTr && selectedTr !== sel) selectedTr.classList.remove("selected");
    if (sel) sel.classList.add("selected");
    selectedTr = sel;
    const stop = sel || (rowOrder ? rowOrder[0] : null);
    if (tabStopTr && tabStopTr !== stop) tabStopTr.tabIndex = -1;
    if (stop) stop.tabIndex = 0;
    tabStopTr = stop;
  }

  function renderSortHeaders() {
    for (const th of els.sortHeaders) {
      const on = th.dataset.sort === state.list.sort;
      th.setAttribute("aria-sort", on ? (state.list.dir === "asc" ? "ascending" : "descending") : "none");
    }
  }

  function onSortClick(e) {
    const th = e.target.closest("th[data-sort]");
    if (!th) return;
    const key = th.dataset.sort;
    if (key === state.list.sort) state.list.dir = state.list.dir === "asc" ? "desc" : "asc";
    else { state.list.sort = key; state.list.dir = FIRST_DIR[key] || "asc"; }
    syncListHash();
    if (state.listData) guarded(renderProcesses); // sorting is local: no fetch
    else renderSortHeaders();
  }

  // ----- facets

  const facetSigs = {};
  function renderFacets(facets) {
    for (const name of FACETS) {
      const items = Array.isArray(facets[name]) ? facets[name] : [];
      const active = state.list[name];
      const group = els.facetGroups[name];
      const sig = active + "\u0000" + JSON.stringify(items);
      if (facetSigs[name] === sig) continue; // unchanged: keep focus and hover
      facetSigs[name] = sig;
      const focusedValue = document.activeElement && document.activeElement.dataset &&
        document.activeElement.dataset.facet === name ? document.activeElement.dataset.value : null;
      const buttons = items.map((f) => facetButton(name, String(f.value), f.count, String(f.value) === active));
      // An active value with no matches left still shows, so it can be unset.
      if (active && !items.some((f) => String(f.value) === active)) buttons.unshift(facetButton(name, active, 0, true));
      group.list.replaceChildren(...(buttons.length ? buttons : [h("div", {class: "facet-none", text: "none"})]));
      group.clear.hidden = !active;
      if (focusedValue != null) {
        const again = buttons.find((b) => b.dataset.value === focusedValue);
        if (again) again.focus({preventScroll: true});
      }
    }
  }

  function facetButton(name, value, count, pressed) {
    const shown = name === "container" ? shortId(value) : value;
    const b = h("button", {type: "button", class: "facet", "data-facet": name, "data-value": value,
      "aria-pressed": pressed ? "true" : "false", title: visible(value)}, [
      h("span", {class: "facet-value", text: visible(shown)}),
      h("span", {class: "facet-count", text: fmtNum(count)}),
    ]);
    return b;
  }

  function onFacetClick(e) {
    const b = e.target.closest("button");
    if (!b || !b.dataset.facet) return;
    const name = b.dataset.facet;
    if (!FACETS.includes(name)) return;
    if (b.classList.contains("facet-clear")) state.list[name] = "";
    else state.list[name] = state.list[name] === b.dataset.value ? "" : b.dataset.value;
    // Answer the click at once; the list follows with the fetch.
    for (const other of els.facetGroups[name].list.querySelectorAll("button.facet")) {
      other.setAttribute("aria-pressed", other.dataset.value === state.list[name] ? "true" : "false");
    }
    els.facetGroups[name].clear.hidden = !state.list[name];
    delete facetSigs[name];
    syncListHash();
    refreshNow();
  }

  // ----- search

  let searchTimer = null;
  function onSearchInput() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(flushSearch, SEARCH_DEBOUNCE_MS);
  }
  function flushSearch() {
    clearTimeout(searchTimer);
    searchTimer = null;
    const value = els.search.value;
    const changed = value.trim() !== state.list.q.trim();
    state.list.q = value;
    syncListHash();
    if (changed) refreshNow();
  }

  function setHostname(name) {
    if (typeof name !== "string" || !name) return;
    const text = visible(name);
    if (els.hostname.textContent !== text) {
      els.hostname.textContent = text;
      document.title = "runner · Live Processes · " + text;
    }
  }

  // ---------------------------------------------------------------- process view

  // A new pid: forget the old one's fields and tables, draw its history.
  function openProcess(pid) {
    state.pid = pid;
    state.detail = null;
    els.processTitle.textContent = "process " + pid;
    els.processState.hidden = true;
    els.processError.hidden = true;
    els.details.replaceChildren();
    els.details.classList.remove("gone");
    detailFields.clear();
    for (const tbody of [els.listeningTbody, els.establishedTbody, els.sameTbody, els.talksToTbody, els.talkedByTbody]) {
      tableSigs.delete(tbody);
      tbody.replaceChildren();
    }
    els.elsewhere.textContent = "";
    els.tabConnections.textContent = "Connections";
    els.tabRelated.textContent = "Related";
    els.processView.classList.add("empty"); // no fields or tables until the first answer
    drawSparklines(pid);
  }

  function setTab(tab, updateHash) {
    state.tab = tab;
    const conn = tab === "connections";
    els.tabConnections.setAttribute("aria-selected", String(conn));
    els.tabRelated.setAttribute("aria-selected", String(!conn));
    els.tabConnections.tabIndex = conn ? 0 : -1;
    els.tabRelated.tabIndex = conn ? -1 : 0;
    els.panelConnections.hidden = !conn;
    els.panelRelated.hidden = conn;
    if (updateHash && state.view === "process") {
      history.replaceState(null, "", "#/process/" + state.pid + "?tab=" + tab);
      routedHash = location.hash;
    }
  }

  const STATES = {
    R: "running", S: "sleeping", D: "disk sleep", Z: "zombie", T: "stopped", t: "tracing stop",
    X: "dead", x: "dead", I: "idle", K: "wakekill", W: "waking", P: "parked",
  };
  function stateText(s) {
    const v = visible(s);
    return STATES[s] ? v + " (" + STATES[s] + ")" : v || "-";
  }

  // Detail fields: key (data-field), label, the API fields it shows (for
  // `denied`), value (string or node), and whether it spans the row.
  const FIELDS = [
    {key: "pid", label: "PID", value: (p) => String(p.pid)},
    {key: "ppid", label: "Parent PID", value: (p) => (isNum(p.ppid) && p.ppid > 0 ? h("a", {href: processHref(p.ppid), text: String(p.ppid)}) : fmtNum(p.ppid)), sig: (p) => p.ppid},
    {key: "user", label: "User", value: (p) => userText(p) + (p.uid != null && p.user != null ? " (uid " + p.uid + ")" : "")},
    {key: "state", label: "State", value: (p) => stateText(p.state)},
    {key: "started", label: "Started", fields: ["start_time"], value: (p, d) => fmtDateTime(p.start_time) + (isNum(p.start_time) && isNum(d.time) ? " · up " + fmtSpan(d.time - p.start_time) : "")},
    {key: "cpu_percent", label: "CPU", value: (p) => (isNum(p.cpu_percent) ? p.cpu_percent.toFixed(1) + " %" + (isNum(p.cpu_user_percent) ? " (user " + p.cpu_user_percent.toFixed(1) + " %, system " + fmtCpu(p.cpu_system_percent) + " %)" : "") : "-")},
    {key: "cpu_time", label: "CPU time", fields: ["cpu_user_seconds", "cpu_system_seconds"], value: (p) => (isNum(p.cpu_user_seconds) ? fmtSpan(p.cpu_user_seconds) + " user, " + fmtSpan(p.cpu_system_seconds) + " system" : "-")},
    {key: "rss", label: "RSS", value: (p) => fmtBytes(p.rss) + (isNum(p.memory_percent) ? " (" + p.memory_percent.toFixed(1) + " % of memory)" : "")},
    {key: "vms", label: "Virtual memory", value: (p) => fmtBytes(p.vms)},
    {key: "shared", label: "Shared", value: (p) => fmtBytes(p.shared)},
    {key: "swap", label: "Swap", value: (p) => fmtBytes(p.swap)},
    {key: "threads", label: "Threads", value: (p) => fmtNum(p.threads)},
    {key: "open_fds", label: "Open files", value: (p) => fmtNum(p.open_fds)},
    {key: "io", label: "Disk I/O", value: (p) => (p.io ? "read " + fmtBytes(p.io.read_bytes) + " (" + fmtCount(p.io.read_count) + " calls) · written " + fmtBytes(p.io.write_bytes) + " (" + fmtCount(p.io.write_count) + " calls)" : "-")},
    {key: "ctx_switches", label: "Context switches", fields: ["voluntary_ctx_switches", "involuntary_ctx_switches"], value: (p) => (isNum(p.voluntary_ctx_switches) ? fmtCount(p.voluntary_ctx_switches) + " voluntary, " + fmtCount(p.involuntary_ctx_switches) + " involuntary" : "-")},
    {key: "faults", label: "Page faults", fields: ["minor_faults", "major_faults"], value: (p) => (isNum(p.minor_faults) ? fmtCount(p.minor_faults) + " minor, " + fmtCount(p.major_faults) + " major" : "-")},
    {key: "container_id", label: "Container", mono: true, wide: true, value: (p) => (p.container_id ? visible(p.container_id) : "not in a container")},
    {key: "exe", label: "Executable", mono: true, wide: true, value: (p) => (p.exe != null ? visible(p.exe) : "-")},
    {key: "cwd", label: "Working directory", mono: true, wide: true, value: (p) => (p.cwd != null ? visible(p.cwd) : "-")},
    {key: "cmdline", label: "Command line", wide: true, value: cmdlineNode, sig: (p) => JSON.stringify([p.cmdline, p.command])},
  ];

  // Each argument in its own box, so spaces inside one argument show.
  function cmdlineNode(p) {
    const args = Array.isArray(p.cmdline) && p.cmdline.length ? p.cmdline : null;
    if (!args) return h("span", {class: "cmdline", text: visible(p.command) || "-"});
    const span = h("span", {class: "cmdline"});
    args.forEach((arg, i) => {
      if (i) span.append(" ");
      span.append(h("span", {class: "arg", text: visible(arg)}));
    });
    return span;
  }

  const detailFields = new Map(); // key -> {dd, sig}
  function renderDetails(p, data) {
    const denied = Array.isArray(p.denied) ? p.denied : [];
    for (const f of FIELDS) {
      let entry = detailFields.get(f.key);
      if (!entry) {
        const dd = h("dd", {class: f.mono ? "mono" : null});
        const div = h("div", {"data-field": f.key, class: f.wide ? "wide" : null}, [h("dt", {text: f.label}), dd]);
        els.details.append(div);
        entry = {dd, sig: undefined};
        detailFields.set(f.key, entry);
      }
      const isDenied = (f.fields || [f.key]).some((name) => denied.includes(name)) && (f.fields || [f.key]).every((name) => p[name] == null);
      const value = isDenied ? null : f.value(p, data);
      const sig = isDenied ? "\u0000denied" : f.sig ? "\u0000" + f.sig(p) : value;
      if (entry.sig === sig) continue; // unchanged: keep any text selection
      entry.sig = sig;
      if (isDenied) entry.dd.replaceChildren(h("span", {class: "denied", text: "permission denied"}));
      else entry.dd.replaceChildren(value);
    }
  }

  function renderProcess() {
    const data = state.detail;
    if (!data || !data.process) return;
    const p = data.process;
    els.processTitle.textContent = visible(p.name) + " (" + p.pid + ")";
    document.title = visible(p.name) + " (" + p.pid + ") · runner";
    els.processError.hidden = true;
    els.details.classList.remove("gone");
    els.processView.classList.remove("empty");
    const label = STATES[p.state] || visible(p.state);
    els.processState.textContent = label;
    els.processState.className = "pill" + (p.state === "R" ? " run" : p.state === "Z" ? " zombie" : "");
    els.processState.hidden = !label;
    renderDetails(p, data);
    drawSparklines(p.pid);
    renderConnections(data);
    renderRelated(data.related || {});
  }

  // The process went away: say so, keep its last fields and its history.
  function renderProcessGone(message) {
    els.processError.textContent = visible(message);
    els.processError.hidden = false;
    els.details.classList.add("gone");
    els.processState.textContent = "gone";
    els.processState.className = "pill gone";
    els.processState.hidden = false;
    drawSparklines(state.pid);
  }

  // ----- sparklines

  function drawSparklines(pid) {
    const hst = samples.get(pid) || {t: [], cpu: [], rss: []};
    const cpu = lastNumber(hst.cpu), rss = lastNumber(hst.rss);
    drawSpark(els.sparkCpu, hst.cpu, true);
    drawSpark(els.sparkRss, hst.rss, false);
    els.sparkCpuValue.textContent = cpu == null ? "-" : cpu.toFixed(1) + " %";
    els.sparkRssValue.textContent = fmtBytes(rss);
    els.sparkCpu.setAttribute("aria-label", "CPU % over the last " + hst.t.length + " refreshes, now " + els.sparkCpuValue.textContent);
    els.sparkRss.setAttribute("aria-label", "RSS over the last " + hst.t.length + " refreshes, now " + els.sparkRssValue.textContent);
  }

  function lastNumber(values) {
    for (let i = values.length - 1; i >= 0; i--) if (values[i] != null) return values[i];
    return null;
  }

  // A polyline over the points known (nulls skipped) with a soft area
  // under it. CPU is drawn from 0; RSS between its min and max, so its
  // small changes show.
  function drawSpark(svg, values, fromZero) {
    const W = 160, H = 32, PAD = 2;
    const pts = [];
    for (let i = 0; i < values.length; i++) if (values[i] != null) pts.push([i, values[i]]);
    const line = svg.querySelector("polyline"), area = svg.querySelector("polygon");
    if (!pts.length) { line.setAttribute("points", ""); area.setAttribute("points", ""); return; }
    let min = fromZero ? 0 : Infinity, max = fromZero ? 1 : -Infinity;
    for (const [, v] of pts) { if (v < min) min = v; if (v > max) max = v; }
    if (fromZero) max *= 1.15; // headroom, so a busy process is not a flat line on the top edge
    if (max === min) { max += 1; min -= 1; }
    const span = Math.max(1, values.length - 1);
    const xy = pts.map(([i, v]) => {
      const x = pts.length === 1 ? W : (i / span) * W;
      const y = H - PAD - ((v - min) / (max - min)) * (H - 2 * PAD);
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    if (xy.length === 1) xy.unshift("0," + xy[0].split(",")[1]); // one point: a flat line
    const text = xy.join(" ");
    line.setAttribute("points", text);
    const first = xy[0].split(",")[0], last = xy[xy.length - 1].split(",")[0];
    area.setAttribute("points", first + "," + H + " " + text + " " + last + "," + H);
  }

  // ----- connections

  function renderConnections(data) {
    const listening = Array.isArray(data.listening) ? data.listening : [];
    const established = Array.isArray(data.connections) ? data.connections : [];
    fillTbody(els.listeningTbody, listening, listeningRow, "none", 3);
    fillTbody(els.establishedTbody, established, establishedRow, "none", 6);
    els.tabConnections.replaceChildren("Connections ", h("span", {class: "tab-count", text: String(listening.length + established.length)}));
  }

  function listeningRow(l) {
    return h("tr", {"data-port": l.port, tabindex: -1}, [
      h("td", {text: visible(l.protocol)}),
      h("td", {class: "mono", text: visible(l.local), title: visible(l.local)}),
      h("td", {class: "num", text: fmtNum(l.port)}),
    ]);
  }

  // The processes holding the other ends on this host.
  function remoteProcesses(c) {
    if (!Array.isArray(c.remote_processes)) return [];
    return c.remote_processes.filter((r) => r && Number.isInteger(r.pid));
  }

  function establishedRow(c) {
    const remotes = remoteProcesses(c);
    const cell = h("td");
    remotes.forEach((r, i) => {
      if (i) cell.append(", ");
      const times = isNum(r.connections) && r.connections > 1 ? " ×" + r.connections : "";
      cell.append(h("a", {href: processHref(r.pid), "data-pid": r.pid, title: visible(r.name),
        text: visible(r.name) + " (" + r.pid + ")" + times}));
    });
    const elsewhere = isNum(c.elsewhere) ? c.elsewhere : 0;
    if (elsewhere > 0) {
      if (remotes.length) cell.append(", ");
      cell.append(h("span", {class: "dim", text: remotes.length ? elsewhere + " not on this host" : "not on this host"}));
    }
    const dir = ["incoming", "outgoing"].includes(c.direction) ? c.direction : "unknown";
    const ports = Array.isArray(c.local_ports) ? c.local_ports.join(", ") : "";
    return h("tr", {"data-remote": c.remote, tabindex: -1}, [
      h("td", {class: "mono", text: visible(c.remote), title: visible(c.remote)}),
      h("td", {text: visible(c.protocol)}),
      h("td", null, [h("span", {class: "dir dir-" + dir, text: visible(c.direction || "unknown")})]),
      h("td", {class: "num", text: fmtNum(c.count)}),
      h("td", {class: "mono", text: ports, title: ports}),
      cell,
    ]);
  }

  // ----- related

  function renderRelated(rel) {
    const same = Array.isArray(rel.same_command) ? rel.same_command : [];
    const to = Array.isArray(rel.talks_to) ? rel.talks_to : [];
    const by = Array.isArray(rel.talked_to_by) ? rel.talked_to_by : [];
    const peerRow = (x) => relatedRow(x && x.process, x && x.connections);
    fillTbody(els.sameTbody, same, (p) => relatedRow(p, null), "none", 6);
    fillTbody(els.talksToTbody, to, peerRow, "none", 7);
    fillTbody(els.talkedByTbody, by, peerRow, "none", 7);
    const elsewhere = isNum(rel.connections_elsewhere) ? rel.connections_elsewhere : 0;
    els.elsewhere.textContent = elsewhere === 1 ? "1 connection to an endpoint not on this host."
      : elsewhere + " connections to endpoints not on this host.";
    els.tabRelated.replaceChildren("Related ", h("span", {class: "tab-count", text: String(same.length + to.length + by.length)}));
  }

  function relatedRow(p, connections) {
    p = p || {};
    const cells = [
      h("td", {class: "num", text: String(p.pid)}),
      h("td", {text: visible(p.name), title: visible(p.name)}),
      h("td", {text: userText(p)}),
      h("td", {class: "num", text: fmtCpu(p.cpu_percent)}),
      h("td", {class: "num", text: fmtBytes(p.rss)}),
    ];
    if (connections !== null) cells.push(h("td", {class: "num", text: fmtNum(connections)})); // peers only
    cells.push(h("td", {class: "cmd", text: visible(p.command), title: visible(p.command)}));
    return h("tr", {"data-pid": p.pid, tabindex: -1}, cells);
  }

  // ---------------------------------------------------------------- checks view

  const CHECK_STATES = ["ok", "warning", "error", "pending"];

  function renderChecks() {
    const s = state.status;
    if (!s) return;
    setHostname(s.hostname);
    const instances = Array.isArray(s.instances) ? s.instances : [];
    const now = isNum(s.now) ? s.now : Date.now() / 1000;
    renderCheckSummary(instances, s);
    renderConfigErrors(s);
    // "3 s ago" changes with `now`: part of the signature.
    fillTbody(els.checksTbody, instances, (i) => checkRow(i, now), "No checks are configured", 8, now);
  }

  function renderCheckSummary(instances, s) {
    const counts = {ok: 0, warning: 0, error: 0, pending: 0};
    for (const i of instances) counts[CHECK_STATES.includes(i.state) ? i.state : "pending"]++;
    const parts = [h("span", {text: instances.length + (instances.length === 1 ? " instance" : " instances")})];
    for (const k of CHECK_STATES) if (counts[k]) parts.push(h("span", {class: "state state-" + k, text: counts[k] + " " + k}));
    if (s.version) parts.push(h("span", {text: "runner " + visible(s.version) + (isNum(s.started_at) && isNum(s.now) ? " · up " + fmtSpan(s.now - s.started_at) : "")}));
    els.checksSummary.replaceChildren(...parts);
  }

  function checkRow(i, now) {
    const st = CHECK_STATES.includes(i.state) ? i.state : "pending";
    const err = i.last_error == null ? "" : visibleLines(i.last_error);
    const firstLine = err.split("\n")[0];
    const errors = isNum(i.total_errors) ? i.total_errors : 0;
    const sampleCount = i.metric_samples && isNum(i.metric_samples.last) ? String(i.metric_samples.last) : "-";
    return h("tr", {"data-instance": i.id, tabindex: -1}, [
      h("td", {text: visible(i.check), title: i.source ? visible(i.source) : null}),
      h("td", {class: "mono", text: visible(i.id), title: visible(i.id)}),
      h("td", null, [h("span", {class: "state state-" + st, text: visible(i.state || "pending")})]),
      h("td", {class: "num", text: i.last_run == null ? "never" : fmtAgo(now - i.last_run), title: isNum(i.last_run) ? fmtDateTime(i.last_run) : null}),
      h("td", {class: "num", text: isNum(i.last_execution_ms) ? i.last_execution_ms.toFixed(1) + " ms" : "-",
        title: isNum(i.average_execution_ms) ? "average " + i.average_execution_ms.toFixed(1) + " ms" : null}),
      h("td", {class: "num", text: sampleCount}),
      h("td", {class: "num" + (errors ? " errors-some" : ""), text: fmtNum(i.total_runs) + " / " + fmtNum(i.total_errors)}),
      h("td", {class: "last-error", text: firstLine, title: err || null}),
    ]);
  }

  function renderConfigErrors(s) {
    const groups = [
      ["Configuration errors", s.config_errors, ""],
      ["Loading errors", s.loading_errors, ""],
      ["Configuration warnings", s.config_warnings, "warn"],
    ];
    const sig = JSON.stringify(groups);
    if (tableSigs.get(els.configErrors) === sig) return;
    tableSigs.set(els.configErrors, sig);
    const nodes = [];
    for (const [title, list, cls] of groups) {
      if (!Array.isArray(list) || !list.length) continue;
      nodes.push(h("h2", {class: cls || null, text: title}));
      nodes.push(h("ul", null, list.map((e) => h("li", null, [
        h("strong", {text: e && e.check != null ? visible(e.check) : "(global)"}),
        visibleLines(e && e.message),
      ]))));
    }
    els.configErrors.replaceChildren(...nodes);
    els.configErrors.hidden = !nodes.length;
  }

  // ---------------------------------------------------------------- pause

  function togglePause() {
    state.paused = !state.paused;
    els.pause.textContent = state.paused ? "Resume" : "Pause";
    els.pause.setAttribute("aria-pressed", String(state.paused));
    els.updated.classList.toggle("paused", state.paused);
    if (state.paused) {
      if (inFlight) { inFlight.abort(); inFlight = null; }
    } else {
      refreshNow();
    }
  }

  // ---------------------------------------------------------------- start

  function init() {
    els = {
      banner: $("banner"), updated: $("updated"), pause: $("pause"), hostname: $("hostname"),
      navProcesses: $("nav-processes"), navChecks: $("nav-checks"),
      processesView: $("processes-view"), processView: $("process-view"), checksView: $("checks-view"),
      search: $("search"), count: $("count"), facets: $("facets"),
      processesScroll: $("processes-scroll"),
      processesTbody: $("processes").tBodies[0],
      sortHeaders: Array.from($("processes").querySelectorAll("th[data-sort]")),
      back: $("back"), processTitle: $("process-title"), processState: $("process-state"),
      processError: $("process-error"), details: $("process-details"),
      sparkCpu: $("spark-cpu"), sparkRss: $("spark-rss"),
      sparkCpuValue: $("spark-cpu-value"), sparkRssValue: $("spark-rss-value"),
      tabConnections: $("tab-connections"), tabRelated: $("tab-related"),
      panelConnections: $("panel-connections"), panelRelated: $("panel-related"),
      listeningTbody: $("listening").tBodies[0], establishedTbody: $("established").tBodies[0],
      sameTbody: $("same-command").tBodies[0], talksToTbody: $("talks-to").tBodies[0],
      talkedByTbody: $("talked-to-by").tBodies[0], elsewhere: $("connections-elsewhere"),
      checksTbody: $("checks").tBodies[0], checksSummary: $("checks-summary"), configErrors: $("config-errors"),
      facetGroups: {},
    };
    for (const name of FACETS) {
      const group = els.facets.querySelector('.facet-group[data-group="' + name + '"]');
      els.facetGroups[name] = {list: group.querySelector(".facet-list"), clear: group.querySelector(".facet-clear")};
    }

    els.search.addEventListener("input", onSearchInput);
    els.facets.addEventListener("click", onFacetClick);
    $("processes").tHead.addEventListener("click", onSortClick);
    document.querySelector("main").addEventListener("click", onRowClick);
    els.pause.addEventListener("click", togglePause);
    els.tabConnections.addEventListener("click", () => setTab("connections", true));
    els.tabRelated.addEventListener("click", () => setTab("related", true));
    document.addEventListener("keydown", onKeyDown);
    window.addEventListener("hashchange", onLocationChange);
    window.addEventListener("popstate", onLocationChange);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) tick(); });
    // The last resort: an unexpected failure shows in the banner, where a
    // user sees it, rather than only in the console.
    window.addEventListener("unhandledrejection", (e) => {
      e.preventDefault();
      showErrorBanner("The page failed: " + (e.reason && e.reason.message ? e.reason.message : String(e.reason)));
    });
    window.addEventListener("error", (e) => {
      e.preventDefault();
      showErrorBanner("The page failed: " + (e.message || "unknown error"));
    });

    els.back.setAttribute("href", listHash());
    route();
    setInterval(tick, REFRESH_MS);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

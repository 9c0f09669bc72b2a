// statenode federated search: POST the form, read the NDJSON stream, render each state's
// answer as it arrives (DESIGN.md "Web UI"). No inline script (CSP); data goes in via
// textContent only, never as HTML.
"use strict";
(() => {
  const form = document.getElementById("search-form");
  if (!form) return;
  const status = document.getElementById("search-status");
  const results = document.getElementById("results");
  const recordForm = document.getElementById("record-form");
  const button = document.getElementById("search-button");
  // A state releases a record found only as a near match (maybe a sibling or a twin) to a
  // data administrator resolving it (purpose data_quality), else once it is linked.
  const isAdmin = form.dataset.admin === "yes";
  // Every word comes from the page (the server's search_pages.SEARCH_WORDS and the
  // matcher's words), so the streamed results say what the server-side page says; each
  // candidate carries its own outcome words ("almost certainly this child (99.9%)").
  const LEVELS = JSON.parse(form.dataset.levels || "{}");
  const FIELDS = JSON.parse(form.dataset.fields || "{}");
  const WORDS = JSON.parse(form.dataset.words || "{}");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const plural = new Intl.PluralRules(document.documentElement.lang || "en");
  // WORDS.x with {name} filled in; a pair of words is (one, other), chosen by {n}
  function t(key, vars) {
    let text = WORDS[key];
    if (Array.isArray(text)) text = plural.select(vars.n) === "one" ? text[0] : text[1];
    return String(text).replace(/\{(\w+)\}/g, (m, k) => (vars && k in vars ? String(vars[k]) : m));
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) node.append(c);
    return node;
  }
  // The visible status shows the latest news; the announcer (a polite live log) gets each
  // piece of news as a line of its own, so a screen reader says every one exactly once,
  // even when two arrive in the same moment (a state's answer and the summary). An error
  // turns the status itself into an alert instead.
  const announcer = document.getElementById("search-announcer");
  function say(text, isError) {
    status.textContent = text;
    status.className = "search-status" + (isError ? " message error" : "");
    if (isError) {
      status.setAttribute("role", "alert");  // said at once, by the status itself
    } else {
      status.removeAttribute("role");
      announcer.append(el("p", { text }));
    }
  }
  // an ISO date as the server's pages show it: ISO in English, the locale's medium date else
  const lang = document.documentElement.lang || "en";
  const dates = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeZone: "UTC" });
  function day(iso) {
    if (!iso) return "—";
    if (lang === "en" || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) return iso;
    return dates.format(new Date(`${iso}T00:00:00Z`));
  }
  function fullName(d) {
    return [d.first_name, d.middle_name, d.last_name_1, d.last_name_2, d.suffix]
      .filter((part) => part && part !== "-").join(" ");
  }
  function idOnly(ag) {
    const compared = Object.entries(ag || {}).filter(([, level]) => level !== "missing");
    return compared.length === 1 && compared[0][0] === "state_student_id";
  }
  function agreementText(ag) {
    const parts = [];
    for (const [field, level] of Object.entries(ag || {})) {
      if (level === "missing") continue;
      parts.push(`${FIELDS[field] || field}: ${LEVELS[level] || level}`);
    }
    return parts.join(" · ");
  }

  const sections = new Map();
  let purpose = "";
  let found = 0;

  function section(state, isLocal) {
    if (sections.has(state)) return sections.get(state);
    const heading = el("h3", { id: `state-${state}` });
    heading.append(el("span", { class: "badge state", text: state }), " ",
                   el("span", { class: "state-title", text: isLocal ? WORDS.local : t("waiting") }));
    const body = el("div", { class: "state-body" },
                    el("p", { class: "pending", text: t("waiting_answer") }));
    const box = el("section", { class: "state-result pending-state", "aria-labelledby": `state-${state}`,
                                "data-state": state }, heading, body);
    results.append(box);
    sections.set(state, box);
    return box;
  }

  function recordLink(state, cand, isLocal) {
    const q = new URLSearchParams({ purpose });
    if (isLocal) q.append("local", cand.record); else q.append("r", `${state}:${cand.handle}`);
    return `/record?${q}`;
  }

  function renderAnswer(line) {
    const box = section(line.state, line.local);
    box.classList.remove("pending-state");
    const title = box.querySelector(".state-title");
    const body = box.querySelector(".state-body");
    body.replaceChildren();
    if (line.status !== "answered") {
      box.classList.add("no-answer");
      title.textContent = line.status === "timeout" ? WORDS.timeout : WORDS.no_answer;
      body.append(el("p", { class: "message error",
                           text: line.error || (line.status === "timeout" ? WORDS.timeout : WORDS.no_answer) }));
      return;
    }
    const cands = line.candidates || [];
    found += cands.length;
    const label = line.local ? WORDS.local : WORDS.answered;
    title.textContent = `${label} · ${t("records", { n: cands.length })}`;
    if (!cands.length) {
      body.append(el("p", { class: "empty", text: WORDS.none }));
      return;
    }
    const tbody = el("tbody");
    cands.forEach((c, i) => {
      const d = c.demographics || {};
      const name = fullName(d);
      const id = `pick-${line.state}-${i}`;
      const held = !line.local && c.outcome === "near_match" &&
        !(isAdmin && purpose === "data_quality");
      const box = el("input", { type: "checkbox", id, name: line.local ? "local" : "r",
                                value: line.local ? c.record : `${line.state}:${c.handle}`,
                                checked: c.outcome === "match", disabled: held });
      const pick = el("td", { class: "pick" }, box,
                      el("label", { for: id, class: "visually-hidden", text: t("include", { name, state: line.state }) }));
      const who = el("td", {}, held ? el("span", { text: name })
                                    : el("a", { href: recordLink(line.state, c, line.local), text: name }));
      const agree = agreementText(c.agreements);
      if (agree) who.append(el("div", { class: "help", text: agree }));
      if (held) who.append(el("div", { class: "help", text: idOnly(c.agreements) ? WORDS.id_only
        : isAdmin ? WORDS.held_admin : WORDS.held_staff }));
      const place = [d.birth_city, d.birth_state, d.birth_country].filter(Boolean).join(", ");
      const outcome = el("td", {}, el("span", { class: `tag outcome-${c.outcome}`,
                                                text: c.words || c.outcome }));
      if (c.linked) outcome.append(" ", el("span", { class: "tag", text: WORDS.linked }));
      if (c.worklist_status === "open") {
        outcome.append(" ", el("span", { class: "tag muted", text: WORDS.on_worklist }));
      }
      if (c.worklist_status === "held" && c.worklist_item) outcome.append(askButton(c, name, line.state));
      const cells = [pick, who, el("td", { text: day(d.birth_date) }),
                     el("td", { text: WORDS[`sex_${d.sex}`] || d.sex || "—" }), el("td", { text: place || "—" })];
      if (isAdmin) cells.push(el("td", { class: "num", text: (c.score / 1000).toFixed(1) }));
      tbody.append(el("tr", {}, ...cells, outcome));
    });
    const heads = WORDS.columns.slice(0, 5);
    if (isAdmin) heads.push(WORDS.score);
    heads.push(WORDS.columns[5]);
    const head = el("thead", {}, el("tr", {}, ...heads.map(
      (h) => el("th", { scope: "col", class: h === WORDS.score ? "num" : null, text: h }))));
    body.append(el("table", { class: "data results" }, head, tbody));
  }

  // One click: POST /review; the button gives way to what the node answered.
  function askButton(c, name, state) {
    const button = el("button", { type: "button", class: "secondary small" }, WORDS.ask,
                      el("span", { class: "visually-hidden", text: ` (${name}, ${state})` }));
    const box = el("div", { class: "ask" }, button);
    button.addEventListener("click", async () => {
      button.disabled = true;
      let text = "";
      let ok = false;
      try {
        const resp = await fetch("/review", {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRF-Token": csrf, "Accept": "application/json",
                     "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ item: String(c.worklist_item) }),
        });
        const answer = await resp.json().catch(() => ({}));
        ok = resp.ok;
        text = answer.message || answer.error || t("http", { status: resp.status });
      } catch (err) {
        text = err.message;
      }
      box.replaceChildren(el("p", { class: ok ? "help asked" : "message error",
                                    role: ok ? "status" : "alert", text }));
    });
    return box;
  }

  function renderSummary(s) {
    const missing = [...s.timed_out.map((st) => t("timed_out", { state: st })),
                     ...Object.keys(s.failed).map((st) => t("unreachable", { state: st }))];
    let text = t("states_answered", { n: s.answered.length }) +
      (s.answered.length ? `: ${s.answered.join(", ")}.` : ".") +
      " " + t("records_found", { n: found });
    if (missing.length) text += " " + t("did_not_answer", { list: missing.join("; ") });
    say(text, false);
    // how many states received the search's details (the summary's disclosure, issue 14)
    const d = s.disclosure || {};
    const asked = new Set(["plain", "connected", "hit", "no_hit", "not_sent"]
      .flatMap((route) => d[route] || []));
    const disclosureBox = document.getElementById("search-disclosure");
    if (disclosureBox && asked.size) {
      const n = (d.no_hit || []).length;
      const vars = { sent: (d.find_sent || []).length, total: asked.size, n };
      disclosureBox.textContent = n ? t("disclosed", vars) : t("disclosed_all", vars);
      disclosureBox.hidden = false;
    }
    // the search is over: take the reader to the results (the status says it once)
    document.getElementById("results-title").focus();
  }

  function handle(line) {
    if (line.type === "start") {
      section(line.local, true);
      line.states.forEach((st) => section(st, false));
    } else if (line.type === "answer") {
      // one announcement per state answering, one at the end (renderSummary)
      renderAnswer(line);
      const waiting = [...sections.values()].filter((b) => b.classList.contains("pending-state"))
        .map((b) => b.dataset.state);
      const name = line.local ? WORDS.local : line.state;
      let text = line.status === "answered"
        ? t("state_answered", { state: name, n: (line.candidates || []).length })
        : t("state_no_answer", { state: name });
      if (waiting.length) text += " " + t("waiting_for", { list: waiting.join(", ") });
      say(text);
    } else if (line.type === "summary") {
      renderSummary(line);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const named = data.get("first_name").trim() && data.get("last_name_1").trim();
    if (!named && !data.get("student_id").trim()) {
      say(WORDS.need, true);
      (data.get("first_name").trim() ? form.last_name_1 : form.first_name).focus();
      return;
    }
    if (!data.get("purpose")) {
      say(WORDS.purpose, true);
      form.purpose.focus();
      return;
    }
    purpose = data.get("purpose");
    document.getElementById("record-purpose").value = purpose;
    sections.clear();
    results.replaceChildren();
    announcer.replaceChildren();
    document.getElementById("search-disclosure").hidden = true;
    found = 0;
    recordForm.hidden = false;
    button.disabled = true;
    try {
      const resp = await fetch(form.action, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": data.get("csrf_token"),
                   "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(data),
      });
      if (!resp.ok) {
        let message = t("failed", { status: resp.status });
        try { message = (await resp.json()).error || message; } catch (e) { /* not JSON */ }
        recordForm.hidden = true;
        say(message, true);
        return;
      }
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (value) buffer += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const text = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (text) handle(JSON.parse(text));
        }
        if (done) break;
      }
    } catch (err) {
      say(t("interrupted", { error: err.message }), true);
    } finally {
      button.disabled = false;
    }
  });

  recordForm.addEventListener("submit", (event) => {
    if (!recordForm.querySelector("input[type=checkbox]:checked")) {
      event.preventDefault();
      say(t("tick", {}), true);
    }
  });
  form.dataset.ready = "yes"; // the handlers are attached (tests wait for this)
})();

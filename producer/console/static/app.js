// The console: plain DOM, no framework, no build step. It calls the JSON API with the user's JWT, kept in
// sessionStorage (gone when the tab closes) and sent only as an Authorization header. Every text that comes from
// a user or the API is put in the page as text (textContent / text nodes), never parsed as HTML.
"use strict";

(() => {
  const TOKEN_KEY = "scheduled-reports.token";
  const ORG_KEY = "scheduled-reports.organization";
  const FINAL = ["sent", "partial", "failed", "skipped", "dead"];
  const STATUSES = ["sent", "partial", "failed", "skipped", "dead", "running", "queued"];
  const CADENCES = [["daily", "Daily"], ["weekly", "Weekly"], ["monthly", "Monthly"], ["quarterly", "Quarterly"],
    ["custom", "Custom cron"]];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const FORMATS = ["csv", "csv.zip", "xlsx", "xlsx.zip", "ndjson", "ndjson.zip"];
  const DESTINATION_CHANNELS = [["slack", "Slack"], ["webhook", "Webhook"], ["sftp", "SFTP"]];
  const PAGE = 50;

  const main = document.getElementById("main");
  const top = document.getElementById("top");
  const who = document.getElementById("who");
  let me = null;
  let timers = [];
  let generation = 0;

  // ---- DOM: elements from data, text always as text ----------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key === "className" ? "class" : key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }

  function render(...nodes) {
    main.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
  }

  function every(ms, fn) {
    const id = setInterval(fn, ms);
    timers.push(id);
  }

  // ---- API ---------------------------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `the server answered ${status}`);
      this.status = status;
      this.code = error.code || "";
      this.details = error.details || [];
    }
  }

  // A route this server does not have yet answers the router's own 404 or 405, not an API "not found".
  function missingRoute(err) {
    return err instanceof ApiError && (err.status === 405 || (err.status === 404 && err.message === "Not Found"));
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token()}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", redirect: "error",
    });
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (response.status === 401) {
      const err = new ApiError(401, data);
      signOut(err.message);
      throw err;
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") search.set(k, v);
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  // ---- Who is signed in --------------------------------------------------------------------------------------
  function roleIn(organizationId) {
    if (!me) return null;
    if (me.service) return "service";
    const org = me.organizations.find((o) => o.id === organizationId);
    return org ? org.role : null;
  }

  function canWrite(organizationId) {
    return ["owner", "admin", "service"].includes(roleIn(organizationId));
  }

  function writableOrgs() {
    return me.organizations.filter((o) => canWrite(o.id));
  }

  function chosenOrg() {
    const id = sessionStorage.getItem(ORG_KEY) || "";
    return me.organizations.some((o) => o.id === id) ? id : "";
  }

  function signOut(reason) {
    const wasIn = me !== null;
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(ORG_KEY);
    me = null;
    let message = "";
    if (reason) message = wasIn ? `Signed out: ${reason}. Sign in again with a valid token.` : `That token was not accepted: ${reason}.`;
    showSignIn(message);
  }

  function showHeader() {
    top.hidden = false;
    const label = me.service ? "service role" : me.email || "signed in";
    const parts = [h("span", {}, label)];
    if (me.organizations.length > 1) {
      const select = h("select", { id: "org", onchange: () => { sessionStorage.setItem(ORG_KEY, select.value); route(); } },
        h("option", { value: "" }, "All organizations"),
        me.organizations.map((o) => h("option", { value: o.id, selected: o.id === chosenOrg() }, o.name)));
      parts.push(h("label", { for: "org" }, "Organization"), select);
    } else if (me.organizations.length === 1) {
      parts.push(h("span", { className: "muted" }, `${me.organizations[0].name} (${me.organizations[0].role})`));
    }
    who.replaceChildren(...parts);
    const here = location.hash.split("/")[1] || "schedules";
    for (const link of top.querySelectorAll("nav a")) {
      if (link.getAttribute("href") === `#/${here}`) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function showSignIn(message) {
    clearTimers();
    top.hidden = true;
    const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", spellcheck: "false",
      required: true, "aria-describedby": "signin-error" });
    const error = h("p", { id: "signin-error", className: "error", role: "alert" }, message || "");
    const form = h("form", { className: "card signin", method: "post", novalidate: true },
      h("h1", {}, "Scheduled reports"),
      h("p", { className: "muted" }, "Sign in with your API token (a JWT). It stays in this tab only."),
      h("label", { for: "token" }, "Token"), input, error,
      h("button", { type: "submit" }, "Sign in"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = input.value.trim();
      input.value = "";
      if (!value) { error.textContent = "Paste a token first."; input.focus(); return; }
      sessionStorage.setItem(TOKEN_KEY, value);
      try {
        me = await api("GET", "/v1/me");
      } catch (err) {
        if (err.status !== 401) { sessionStorage.removeItem(TOKEN_KEY); error.textContent = err.message; }
        return;
      }
      // A changed address routes through hashchange; an unchanged one is routed here, once either way.
      if (!location.hash || location.hash === "#/") location.hash = "#/schedules";
      else route();
    });
    render(form);
    input.focus();
  }

  function clearTimers() {
    for (const id of timers) clearInterval(id);
    timers = [];
  }

  // ---- Formatting --------------------------------------------------------------------------------------------
  function inZone(iso, zone) {
    if (!iso) return "—";
    try {
      return new Intl.DateTimeFormat("en-GB", { timeZone: zone || undefined, weekday: "short", day: "numeric",
        month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
    } catch {
      return new Date(iso).toISOString();
    }
  }

  // A wall-clock time in an IANA zone as an instant: start from the same digits in UTC and correct by the zone's
  // offset there, twice (the second pass settles a guess that landed across a DST change).
  function zonedInstant(date, time, zone) {
    const [y, mo, d] = date.split("-").map(Number);
    const [hh, mm, ss] = time.split(":").map(Number);
    const wanted = Date.UTC(y, mo - 1, d, hh, mm, ss);
    let guess = wanted;
    for (let pass = 0; pass < 2; pass += 1) {
      const p = Object.fromEntries(new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric",
        month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" })
        .formatToParts(new Date(guess)).map((x) => [x.type, Number(x.value)]));
      guess += wanted - Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    }
    return new Date(guess).toISOString();
  }

  function localDate(iso, zone) {
    if (!iso) return "";
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" })
        .format(new Date(iso));
    } catch {
      return "";
    }
  }

  function countdown(iso) {
    const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    if (seconds <= 0) return "due now";
    if (seconds < 60) return "in less than 1 min";
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    if (days > 0) return `in ${days} d ${hours} h`;
    if (hours > 0) return `in ${hours} h ${minutes} min`;
    return `in ${minutes} min`;
  }

  function tickCountdowns() {
    for (const el of main.querySelectorAll("[data-countdown]")) el.textContent = countdown(el.dataset.countdown);
  }

  function nextRunCell(schedule) {
    if (!schedule.next_run_at) return schedule.ended ? "Ended" : schedule.enabled ? "—" : "Paused";
    return [h("time", { datetime: schedule.next_run_at }, `${inZone(schedule.next_run_at, schedule.timezone)} `),
      h("span", { className: "muted" }, schedule.timezone),
      h("span", { className: "countdown", "data-countdown": schedule.next_run_at }, countdown(schedule.next_run_at))];
  }

  function cadenceText(s) {
    const at = s.scheduled_time ? ` at ${s.scheduled_time}` : "";
    const day = s.day_of_month === -1 ? "the last day" : `day ${s.day_of_month}`;
    switch (s.cadence) {
      case "daily": return `Daily${at}`;
      case "weekly": return `Weekly on ${DAYS[s.day_of_week ?? 1]}${at}`;
      case "monthly": return `Monthly on ${day}${at}`;
      case "quarterly": return `Quarterly on ${day}${at}`;
      default: return `Cron ${s.cron_expression}`;
    }
  }

  function statusText(status) {
    return status ? h("span", { className: `status status-${status}` }, status) : h("span", { className: "muted" }, "never run");
  }

  function bytes(n) {
    if (n === null || n === undefined) return "—";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  function duration(run) {
    if (!run.started_at || !run.finished_at) return "—";
    const ms = new Date(run.finished_at) - new Date(run.started_at);
    return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function num(n) {
    return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-GB");
  }

  function failure(err) {
    return h("p", { className: "error", role: "alert" }, err.message);
  }

  // ---- Schedules ---------------------------------------------------------------------------------------------
  // One paged table: a page of items from the API, drawn as rows, with keyset paging both ways.
  async function pagedTable({ title, intro, toolbar, columns, url, row, empty, state, again }) {
    const mine = generation;
    const body = h("tbody", {});
    const message = h("p", { className: "notice", role: "status" });
    const previous = h("button", { type: "button", className: "secondary", disabled: !state.cursors.length }, "Previous page");
    const next = h("button", { type: "button", className: "secondary", disabled: true }, "Next page");
    render(h("h1", {}, title), intro || null, toolbar || null, message,
      h("div", { className: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, columns.map((t) => h("th", { scope: "col" }, t)))), body)),
      h("div", { className: "pager" }, previous, next));
    previous.addEventListener("click", () => again({ ...state, cursors: state.cursors.slice(0, -1) }));
    let page;
    try {
      page = await api("GET", url(state.cursors[state.cursors.length - 1]));
    } catch (err) {
      if (mine === generation) message.replaceWith(failure(err));
      return;
    }
    if (mine !== generation) return;
    if (!page.items.length) message.textContent = empty;
    for (const item of page.items) body.append(row(item));
    if (page.next_cursor) {
      next.disabled = false;
      next.addEventListener("click", () => again({ ...state, cursors: [...state.cursors, page.next_cursor] }));
    }
  }

  async function schedulesPage(state) {
    const search = h("input", { id: "search", type: "search", value: state.name || "", autocomplete: "off" });
    const newLink = writableOrgs().length ? h("a", { href: "#/new", className: "button" }, "New schedule") : null;
    let typing = null;
    search.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => schedulesPage({ name: search.value.trim(), cursors: [] }).then(() => {
        const again = document.getElementById("search");
        if (again) { again.focus(); again.setSelectionRange(again.value.length, again.value.length); }
      }), 250);
    });
    await pagedTable({
      title: "Schedules", state, again: schedulesPage,
      toolbar: h("div", { className: "toolbar" }, h("label", { for: "search" }, "Search", search), newLink),
      columns: ["Name", "Cadence", "Next run", "Last status", "Active"],
      url: (cursor) => `/v1/schedules${query({ organization_id: chosenOrg(), name: state.name, limit: PAGE, cursor })}`,
      row: scheduleRow,
      empty: state.name ? "No schedule has that name." : "No schedules yet.",
    });
    every(30000, tickCountdowns);
  }

  function scheduleRow(s) {
    const next = h("td", {}, nextRunCell(s));
    const toggle = h("input", { type: "checkbox", role: "switch", checked: s.enabled,
      "aria-label": `Active: ${s.name}`, disabled: !canWrite(s.organization_id) });
    const error = h("span", { className: "error", role: "alert" });
    // Kept enabled while saving (a disabled control would drop keyboard focus); changes wait for the answer.
    let saving = Promise.resolve();
    toggle.addEventListener("change", () => {
      const wanted = toggle.checked;
      saving = saving.then(async () => {
        toggle.setAttribute("aria-busy", "true");
        error.textContent = "";
        try {
          const updated = await api("PATCH", `/v1/schedules/${s.id}`, { enabled: wanted });
          next.replaceChildren(...[nextRunCell(updated)].flat());
        } catch (err) {
          toggle.checked = !wanted;
          error.textContent = err.message;
        }
        toggle.removeAttribute("aria-busy");
      });
    });
    return h("tr", {},
      h("td", {}, h("a", { href: `#/schedules/${s.id}` }, s.name)),
      h("td", {}, cadenceText(s)),
      next,
      h("td", {}, statusText(s.last_run_status)),
      h("td", {}, toggle, error));
  }

  // ---- One schedule ------------------------------------------------------------------------------------------
  async function schedulePage(id) {
    const mine = generation;
    let s;
    try {
      s = await api("GET", `/v1/schedules/${id}`);
    } catch (err) {
      if (mine === generation) render(h("h1", {}, "Schedule"), failure(err));
      return;
    }
    if (mine !== generation) return;
    const write = canWrite(s.organization_id);
    // People are stored by id; their address is shown (members are listed to anyone who can read the schedule).
    if (s.recipients.some((r) => r.user_id)) {
      try {
        const people = await api("GET", `/v1/organizations/${s.organization_id}/members`);
        for (const r of s.recipients) {
          const person = r.user_id && people.items.find((p) => p.user_id === r.user_id);
          if (person) r.email = person.email;
        }
      } catch (err) {
        if (err.status === 401) return;
      }
      if (mine !== generation) return;
    }
    const live = h("p", { className: "notice", role: "status", "aria-live": "polite" });
    const runsBody = h("tbody", {});
    const stats = h("div", {});
    const changesBody = h("tbody", {});
    const actions = h("div", { className: "actions" });
    if (s.deleted_at) {
      actions.append(h("p", { className: "notice" }, `Deleted ${inZone(s.deleted_at, s.timezone)}. Its settings and runs `
        + "stay readable until retention removes them; restoring brings it back paused."));
      if (write) {
        const restore = h("button", { type: "button" }, "Restore");
        restore.addEventListener("click", async () => {
          restore.disabled = true;
          try {
            await api("POST", `/v1/schedules/${id}/restore`);
            route();
          } catch (err) {
            live.textContent = err.message;
            restore.disabled = false;
          }
        });
        actions.append(restore);
      }
    } else if (write) {
      const target = h("select", { id: "test-target" },
        me.user_id ? h("option", { value: "me" }, `My email (${me.email || "me"})`) : null,
        h("option", { value: "schedule" }, "The schedule's recipients"),
        h("option", { value: "chosen" }, "Recipients I choose"));
      const chosen = h("input", { id: "test-recipients", type: "text", autocomplete: "off", spellcheck: "false",
        placeholder: "ana@example.com, -1001234567890" });
      const stored = h("span", { className: "row" });
      const chosenField = h("span", { className: "field", hidden: true },
        h("label", { for: "test-recipients" }, "Test recipients (emails or Telegram chat ids)"), chosen, stored);
      let storedLoaded = false;
      target.addEventListener("change", async () => {
        chosenField.hidden = target.value !== "chosen";
        if (chosenField.hidden || storedLoaded) return;
        storedLoaded = true;
        // The schedule's own Slack, webhook and SFTP destinations and the organization's, to test one of them.
        const lists = await Promise.all([query({ schedule_id: id }), query({ organization_id: s.organization_id })]
          .map((q) => api("GET", `/v1/destinations${q}`).catch(() => ({ items: [] }))));
        const seen = new Set();
        for (const d of lists.flatMap((list) => list.items)) {
          if (seen.has(d.id)) continue;
          seen.add(d.id);
          const box = h("input", { type: "checkbox", id: `test-dest-${d.id}`, "data-destination": d.id, "data-channel": d.channel });
          stored.append(h("span", { className: "check" }, box, h("label", { for: box.id }, `${d.channel}: ${d.label || d.target}`)));
        }
      });
      const testRun = h("button", { type: "button" }, "Test run");
      testRun.addEventListener("click", async () => {
        let body;
        if (target.value === "me") body = { recipients: [{ channel: "email", user_id: me.user_id }] };
        if (target.value === "chosen") {
          const recipients = chosen.value.split(/[\s,;]+/).filter(Boolean).map((x) => (/^-?[0-9]{1,19}$/.test(x)
            ? { channel: "telegram", telegram_chat_id: Number(x) } : { channel: "email", email: x }));
          for (const box of stored.querySelectorAll("input:checked")) {
            recipients.push({ channel: box.dataset.channel, destination_id: box.dataset.destination });
          }
          if (!recipients.length) { live.textContent = "Type an email address or Telegram chat id, or tick a destination."; chosen.focus(); return; }
          body = { recipients };
        }
        testRun.disabled = true;
        live.textContent = "Starting a test run…";
        try {
          const accepted = await api("POST", `/v1/schedules/${id}/run`, body);
          live.textContent = accepted.warning ? `Test run queued. ${accepted.warning}` : "Test run queued.";
          awaiting = true;
          await loadRuns();
          loadChanges(id, s, changesBody, mine);
        } catch (err) {
          live.textContent = `Test run not started: ${err.message}`;
        }
        testRun.disabled = false;
      });
      const edit = h("button", { type: "button", className: "secondary", onclick: () => { location.hash = `#/schedules/${id}/edit`; } }, "Edit");
      const remove = h("button", { type: "button", className: "danger" }, "Delete");
      remove.addEventListener("click", () => confirmDelete(s));
      actions.append(h("label", { for: "test-target" }, "Send test to"), target, chosenField, testRun, edit, remove);
    } else {
      actions.append(h("p", { className: "muted" }, "You can read this schedule; owners and admins can change it."));
    }
    const settings = h("dl", { className: "settings" },
      [["Cadence", cadenceText(s)], ["Time zone", s.timezone], ["Cron expression", s.cron_expression],
        ["Next run", nextRunCell(s)], ["Active", s.enabled ? "yes" : "no (paused)"], ["Formats", (s.formats || [s.format]).join(", ")],
        ["Last status", statusText(s.last_run_status)],
        ["Channels", [s.send_email ? "email" : null, s.send_telegram ? "telegram" : null, ...s.channels].filter(Boolean).join(", ") || "none"],
        ["Recipients", s.recipients.map(recipientText).join(", ") || "the organization's defaults"],
        ["Window", s.starts_at || s.ends_at ? `${localDate(s.starts_at, s.timezone) || "…"} to ${localDate(s.ends_at, s.timezone) || "…"}${s.ended ? " (ended)" : ""}` : "none"],
        ["Send conditions", conditionsText(s)],
        ["Subject template", s.subject_template || "default"]].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
    render(h("p", {}, h("a", { href: "#/schedules" }, "← Schedules")),
      h("h1", {}, s.name), actions, live,
      h("div", { className: "layout" },
        h("div", {}, h("div", { className: "table-wrap" }, h("table", {},
          h("caption", {}, "Runs"),
          h("thead", {}, h("tr", {}, ["Fire time", "Trigger", "Status", "Rows", "Size", "Duration", "Deliveries"].map((t) =>
            h("th", { scope: "col" }, t)))),
          runsBody)),
          // The audit log is for owners and admins, as the API says.
          write ? h("div", { className: "table-wrap" }, h("table", {},
            h("caption", {}, "Changes"),
            h("thead", {}, h("tr", {}, ["When", "Who", "What", "Changed"].map((t) => h("th", { scope: "col" }, t)))),
            changesBody)) : null),
        h("section", { className: "card", "aria-labelledby": "settings-h" }, h("h2", { id: "settings-h" }, "Settings"), settings, stats)));
    const expanded = new Set();
    // Set when a run was just asked for, until the table shows it final.
    let awaiting = false;

    async function loadRuns() {
      let page;
      try {
        page = await api("GET", `/v1/schedules/${id}/runs?limit=20`);
      } catch (err) {
        if (err.status !== 401) live.textContent = err.message;
        return false;
      }
      if (mine !== generation) return false;
      runsBody.replaceChildren(...page.items.flatMap((run) => runRows(run, s.timezone, expanded,
        write && !s.deleted_at ? resend : null)));
      if (!page.items.length) runsBody.append(h("tr", {}, h("td", { colspan: 7, className: "muted" }, "No runs yet.")));
      const busy = page.items.filter((r) => !FINAL.includes(r.status));
      if (awaiting && page.items.length && !busy.length) {
        awaiting = false;
        live.textContent = `Latest run: ${page.items[0].status}.`;
      }
      return true;
    }
    // A partial or failed run sent again, to the recipients it has not served yet; the answer shows above the table.
    async function resend(run, button) {
      button.disabled = true;
      try {
        const accepted = await api("POST", `/v1/runs/${run.id}/resend`);
        live.textContent = `Resending to the recipients run ${run.id.slice(0, 8)} missed.`
          + (accepted.warning ? ` ${accepted.warning}` : "");
        awaiting = true;
        await loadRuns();
      } catch (err) {
        live.textContent = `Not resent: ${err.message}`;
        button.disabled = false;
      }
    }
    await loadRuns();
    loadStats(id, stats, mine);
    if (write) loadChanges(id, s, changesBody, mine);
    every(1500, async () => {
      // Polled only while a run is not final, or a test run was just queued and has not shown up yet.
      if (runsBody.querySelector("[data-busy]") || awaiting) await loadRuns();
    });
    every(30000, tickCountdowns);
  }

  async function loadStats(id, into, mine) {
    let stats;
    try {
      stats = await api("GET", `/v1/schedules/${id}/stats?days=30`);
    } catch (err) {
      if (!missingRoute(err) && mine === generation) into.append(failure(err));
      return;
    }
    if (mine !== generation || !stats) return;
    const counts = Object.entries(stats.runs || {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ");
    const seconds = (x) => (x === null || x === undefined ? "—" : `${Number(x).toFixed(1)} s`);
    const last = stats.last_run;
    into.append(h("h2", {}, `Last ${stats.days} days`), h("dl", { className: "settings" },
      h("dt", {}, "Runs"), h("dd", {}, counts || "none"),
      h("dt", {}, "Last success"), h("dd", {}, inZone(stats.last_success_at, null)),
      h("dt", {}, "Duration p50 / p95"), h("dd", {}, `${seconds(stats.duration_seconds.p50)} / ${seconds(stats.duration_seconds.p95)}`),
      h("dt", {}, "Last run"), h("dd", {}, last ? `${last.status}, ${num(last.row_count)} rows, ${bytes(last.byte_count)}` : "—")));
  }

  const ACTION_TEXT = {
    "schedule.create": "created", "schedule.update": "edited", "schedule.pause": "paused",
    "schedule.resume": "resumed", "schedule.delete": "deleted", "schedule.restore": "restored",
    "schedule.owner": "owner changed", "schedule.recipients": "recipients replaced",
    "destination.create": "destination added", "destination.delete": "destination removed",
    "run.now": "test run", "run.resend": "resent", "dead_letter.replay": "replayed",
    "unsubscribe.lift": "unsubscribe lifted",
  };

  function changeValue(v) {
    if (v === null || v === undefined) return "—";
    if (Array.isArray(v)) return v.join(", ") || "none";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  // The schedule's audit rows, newest first: who did what, and each changed field as before → after.
  async function loadChanges(id, s, into, mine) {
    let page, people = [];
    try {
      page = await api("GET", `/v1/audit?schedule_id=${id}&limit=20`);
      people = (await api("GET", `/v1/organizations/${s.organization_id}/members`)).items;
    } catch (err) {
      if (!page && !missingRoute(err) && err.status !== 401 && mine === generation) {
        into.replaceChildren(h("tr", {}, h("td", { colspan: 4 }, failure(err))));
      }
      if (!page) return;
    }
    if (mine !== generation) return;
    const who = (actor) => {
      if (actor === "service") return "service";
      const person = people.find((p) => p.user_id === actor);
      return person ? person.email : `user ${actor}`;
    };
    into.replaceChildren(...page.items.map((row) => h("tr", {},
      h("td", {}, inZone(row.created_at, s.timezone)),
      h("td", {}, who(row.actor), h("div", { className: "muted" }, row.actor_role)),
      h("td", {}, ACTION_TEXT[row.action] || row.action),
      h("td", {}, Object.entries(row.changes).filter(([, c]) => row.action !== "schedule.create" || c.after !== null)
        .map(([field, c]) => h("div", {}, row.action === "schedule.create" || row.action === "run.now"
          ? `${field}: ${changeValue(c.after)}` : `${field}: ${changeValue(c.before)} → ${changeValue(c.after)}`))))));
    if (!page.items.length) into.append(h("tr", {}, h("td", { colspan: 4, className: "muted" }, "No changes recorded.")));
  }

  function recipientText(r) {
    if (r.channel === "telegram") return `Telegram ${r.telegram_chat_id}`;
    return r.email || `user ${r.user_id}`;
  }

  function conditionsText(s) {
    const parts = [];
    if (s.skip_if_empty) parts.push("skip if empty");
    if (s.min_rows) parts.push(`at least ${s.min_rows} rows`);
    if (s.only_if_changed) parts.push("only if changed");
    if (s.require_fresh_within_seconds) parts.push(`fresh within ${s.require_fresh_within_seconds} s`);
    return parts.join(", ") || "always send";
  }

  function runRows(run, zone, expanded, resend) {
    const open = expanded.has(run.id);
    const toggle = h("button", { type: "button", className: "secondary", "aria-expanded": open ? "true" : "false" },
      `Deliveries (${run.notifications.length})`);
    const again = resend && ["partial", "failed"].includes(run.status)
      ? h("button", { type: "button", className: "secondary", onclick: () => resend(run, again) }, "Resend to missed")
      : null;
    const row = h("tr", { "data-run": run.id, "data-busy": FINAL.includes(run.status) ? null : "1" },
      h("td", {}, inZone(run.fire_at, zone)),
      h("td", {}, run.trigger),
      h("td", {}, statusText(run.status), run.error ? h("div", { className: "muted" }, run.error) : null),
      h("td", { className: "num" }, num(run.row_count)),
      h("td", { className: "num" }, bytes(run.byte_count)),
      h("td", { className: "num" }, duration(run)),
      h("td", {}, toggle, again ? " " : null, again));
    const detail = h("tr", { className: "deliveries", hidden: !open }, h("td", { colspan: 7 }, h("table", {},
      h("caption", {}, "Deliveries"),
      h("thead", {}, h("tr", {}, ["Channel", "Recipient", "Status", "Error"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, run.notifications.length ? run.notifications.map((n) => h("tr", {},
        h("td", {}, n.channel), h("td", {}, n.recipient), h("td", {}, statusText(n.status)),
        h("td", {}, (n.payload && (n.payload.error || n.payload.reason)) || ""))) :
        h("tr", {}, h("td", { colspan: 4, className: "muted" }, "No deliveries recorded."))))));
    toggle.addEventListener("click", () => {
      const now = detail.hidden;
      detail.hidden = !now;
      toggle.setAttribute("aria-expanded", now ? "true" : "false");
      if (now) expanded.add(run.id); else expanded.delete(run.id);
    });
    return [row, detail];
  }

  function confirmDelete(s) {
    const yes = h("button", { type: "button", className: "danger" }, "Yes, delete");
    const no = h("button", { type: "button", className: "secondary" }, "Cancel");
    const error = h("p", { className: "error", role: "alert" });
    const dialog = h("dialog", { "aria-labelledby": "delete-h" },
      h("h2", { id: "delete-h" }, "Delete this schedule?"),
      h("p", {}, "“", s.name, "” stops firing. Its past runs stay readable."),
      error, h("div", { className: "actions" }, yes, no));
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => dialog.remove());
    yes.addEventListener("click", async () => {
      try {
        await api("DELETE", `/v1/schedules/${s.id}`);
        dialog.close();
        location.hash = "#/schedules";
      } catch (err) {
        error.textContent = err.message;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  }

  // ---- Schedule form (new and edit) --------------------------------------------------------------------------
  async function formPage(id) {
    const mine = generation;
    let s = null;
    try {
      if (id) s = await api("GET", `/v1/schedules/${id}`);
    } catch (err) {
      if (mine === generation) render(h("h1", {}, "Edit schedule"), failure(err));
      return;
    }
    const orgs = writableOrgs();
    if (s ? !canWrite(s.organization_id) : !orgs.length) {
      render(h("h1", {}, s ? "Edit schedule" : "New schedule"),
        h("p", { role: "alert" }, "Your role may read schedules but not change them; ask an owner or admin."));
      return;
    }
    const org = s ? s.organization_id : (chosenOrg() && canWrite(chosenOrg()) ? chosenOrg() : orgs[0].id);
    const zones = await timezones();
    if (mine !== generation) return;
    const f = scheduleForm(s, org, orgs, zones);
    render(h("p", {}, h("a", { href: s ? `#/schedules/${s.id}` : "#/schedules" }, s ? `← ${s.name}` : "← Schedules")),
      h("h1", {}, s ? "Edit schedule" : "New schedule"), f);
  }

  let zoneCache = null;
  async function timezones() {
    if (zoneCache) return zoneCache;
    try {
      const data = await api("GET", "/v1/timezones");
      const items = Array.isArray(data) ? data : data.items || data.timezones || [];
      zoneCache = items.map((z) => (typeof z === "string" ? { name: z } : z));
    } catch (err) {
      if (!missingRoute(err)) throw err;
      // Until the server lists its zones, the browser's own IANA list stands in; the API still judges.
      zoneCache = (Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : ["UTC"]).map((name) => ({ name }));
    }
    return zoneCache;
  }

  function field(id, label, control, extra) {
    control.setAttribute("id", id);
    control.setAttribute("aria-describedby", `${id}-error`);
    return h("div", { className: "field", ...(extra || {}) }, h("label", { for: id }, label), control,
      h("p", { className: "error", id: `${id}-error`, "data-error-for": id }));
  }

  function options(pairs, chosen) {
    return pairs.map(([value, label]) => h("option", { value, selected: String(value) === String(chosen) }, label));
  }

  function scheduleForm(s, initialOrg, orgs, zones) {
    const mine = generation;
    let org = initialOrg;
    const recipients = s ? s.recipients.map((r) => ({ channel: r.channel, user_id: r.user_id, email: r.user_id ? null : r.email,
      telegram_chat_id: r.telegram_chat_id, label: recipientText(r) })) : [];
    const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const c = {
      org: h("select", {}, options(orgs.map((o) => [o.id, o.name]), org)),
      name: h("input", { type: "text", value: s ? s.name : "", maxlength: 200, required: true }),
      link: h("select", { required: true }),
      cadence: h("select", {}, options(CADENCES, s ? s.cadence : "weekly")),
      time: h("input", { type: "time", value: (s && s.scheduled_time) || "09:00" }),
      dow: h("select", {}, options(DAYS.map((d, i) => [i, d]), s && s.day_of_week !== null ? s.day_of_week : 1)),
      dom: h("select", {}, options([...Array.from({ length: 28 }, (_, i) => [i + 1, String(i + 1)]), [-1, "Last day"]],
        s && s.day_of_month !== null ? s.day_of_month : 1)),
      zone: h("input", { type: "text", list: "zone-list", value: s ? s.timezone : browserZone, autocomplete: "off", spellcheck: "false" }),
      cron: h("input", { type: "text", value: s && s.cadence === "custom" ? s.cron_expression : "0 9 * * 1", spellcheck: "false", autocomplete: "off" }),
      format: h("select", {}, options(FORMATS.map((x) => [x, x]), s ? s.format : "csv")),
      starts: h("input", { type: "date", value: s ? localDate(s.starts_at, s.timezone) : "" }),
      ends: h("input", { type: "date", value: s ? localDate(s.ends_at, s.timezone) : "" }),
      skipEmpty: h("input", { type: "checkbox", checked: s ? s.skip_if_empty : false }),
      minRows: h("input", { type: "number", min: 0, value: s ? s.min_rows : 0, inputmode: "numeric" }),
      onlyChanged: h("input", { type: "checkbox", checked: s ? s.only_if_changed : false }),
      subject: h("input", { type: "text", value: (s && s.subject_template) || "", maxlength: 200 }),
      message: h("textarea", { rows: 3, maxlength: 2000 }, (s && s.message_template) || ""),
      sendEmail: h("input", { type: "checkbox", checked: s ? s.send_email : true }),
      sendTelegram: h("input", { type: "checkbox", checked: s ? s.send_telegram : false }),
      email: h("input", { type: "email", autocomplete: "off" }),
      user: h("select", {}),
      chat: h("input", { type: "text", inputmode: "numeric", autocomplete: "off" }),
    };
    const zoneList = h("datalist", { id: "zone-list" }, zones.map((z) => h("option", { value: z.name },
      z.utc_offset || z.offset || null)));
    const fires = h("ol", {});
    const firesNote = h("p", { className: "muted", role: "status" });
    const recipientList = h("ul", { className: "recipients", "aria-label": "Recipients added" });
    const destinationBoxes = h("div", { className: "row" });
    // Up to two more formats beside the main one, delivered with it from the same snapshot.
    const alsoBoxes = FORMATS.map((x, i) => h("input", { type: "checkbox", id: `f-also-${i}`, "data-format": x,
      checked: s ? (s.formats || []).slice(1).includes(x) : false }));
    function markMain() {
      for (const box of alsoBoxes) {
        box.disabled = box.dataset.format === c.format.value;
        if (box.disabled) box.checked = false;
      }
    }
    const general = h("p", { className: "error", role: "alert" });
    const save = h("button", { type: "submit" }, "Save");

    const dowField = field("f-dow", "Day of week", c.dow);
    const domField = field("f-dom", "Day of month", c.dom);
    const timeField = field("f-time", "Time", c.time);
    const cronField = field("f-cron", "Cron expression", c.cron);
    function showTiming() {
      const cadence = c.cadence.value;
      timeField.hidden = cadence === "custom";
      dowField.hidden = cadence !== "weekly";
      domField.hidden = !["monthly", "quarterly"].includes(cadence);
      cronField.hidden = cadence !== "custom";
    }

    function timing() {
      const body = { timezone: c.zone.value.trim() };
      // Each day included, from its first second to its last, in the schedule's zone; empty clears it.
      body.starts_at = null;
      body.ends_at = null;
      try {
        if (c.starts.value) body.starts_at = zonedInstant(c.starts.value, "00:00:00", body.timezone);
        if (c.ends.value) body.ends_at = zonedInstant(c.ends.value, "23:59:59", body.timezone);
      } catch {
        // An unknown zone: the API names the timezone field; the window waits for a zone it can place.
      }
      if (c.cadence.value === "custom") {
        body.cadence = "custom";
        body.cron_expression = c.cron.value;
      } else {
        body.cadence = c.cadence.value;
        body.scheduled_time = c.time.value;
        if (body.cadence === "weekly") body.day_of_week = Number(c.dow.value);
        if (["monthly", "quarterly"].includes(body.cadence)) body.day_of_month = Number(c.dom.value);
      }
      return body;
    }

    const FIELD_IDS = { name: "f-name", shared_link_id: "f-link", cadence: "f-cadence", scheduled_time: "f-time",
      day_of_week: "f-dow", day_of_month: "f-dom", timezone: "f-zone", cron_expression: "f-cron", format: "f-format",
      formats: "f-formats",
      starts_at: "f-starts", ends_at: "f-ends",
      min_rows: "f-minrows", subject_template: "f-subject", message_template: "f-message", recipients: "f-recipients",
      channels: "f-recipients", send_email: "f-recipients", send_telegram: "f-recipients" };

    function clearErrors(only) {
      for (const el of form.querySelectorAll("[data-error-for]")) {
        if (!only || only.includes(el.dataset.errorFor)) el.textContent = "";
      }
      for (const el of form.querySelectorAll("[aria-invalid]")) {
        if (!only || only.includes(el.id)) el.removeAttribute("aria-invalid");
      }
    }

    function showErrors(err, only) {
      let placed = false;
      for (const d of err.details || []) {
        const key = d.field.split(".")[0];
        const target = FIELD_IDS[key];
        if (!target || (only && !only.includes(target))) continue;
        const slot = form.querySelector(`[data-error-for="${target}"]`);
        if (slot) {
          slot.textContent = key === "recipients" ? `${d.field}: ${d.message}` : d.message;
          const control = document.getElementById(target);
          if (control && control.tagName !== "DIV") control.setAttribute("aria-invalid", "true");
          placed = true;
        }
      }
      return placed;
    }

    const TIMING_IDS = ["f-cadence", "f-time", "f-dow", "f-dom", "f-zone", "f-cron", "f-starts", "f-ends"];
    let previewing = 0;
    let previewTimer = null;
    async function preview() {
      const ticket = ++previewing;
      try {
        const answer = await api("POST", "/v1/schedules/preview", { ...timing(), count: 5 });
        if (ticket !== previewing || mine !== generation) return;
        clearErrors(TIMING_IDS);
        firesNote.textContent = `In ${answer.timezone}: cron ${answer.cron_expression}`;
        fires.replaceChildren(...answer.fires.map((fire) => h("li", {}, h("time", { datetime: fire.at },
          `${inZone(fire.at, answer.timezone)} (${fire.local.slice(-6)})`))));
      } catch (err) {
        if (ticket !== previewing || mine !== generation) return;
        fires.replaceChildren();
        if (missingRoute(err)) { firesNote.textContent = "Fire times are listed on the schedule's page once saved."; return; }
        clearErrors(TIMING_IDS);
        if (!showErrors(err, TIMING_IDS)) firesNote.textContent = err.message;
        else firesNote.textContent = "Fix the timing to see the next fires.";
      }
    }
    function schedulePreview() {
      clearTimeout(previewTimer);
      previewTimer = setTimeout(preview, 250);
    }

    function drawRecipients() {
      recipientList.replaceChildren(...recipients.map((r, index) => h("li", {}, h("span", {}, `${r.channel}: ${r.label}`),
        h("button", { type: "button", className: "secondary", "aria-label": `Remove ${r.label}`,
          onclick: () => { recipients.splice(index, 1); drawRecipients(); } }, "Remove"))));
      if (!recipients.length) recipientList.append(h("li", { className: "muted" }, "None: the organization's default recipients get it."));
    }
    function addRecipient(r) {
      if (recipients.some((x) => x.channel === r.channel && x.label.toLowerCase() === r.label.toLowerCase())) return;
      recipients.push(r);
      drawRecipients();
    }

    async function loadOrgLists() {
      const [links, members, destinations] = await Promise.all([
        api("GET", `/v1/shared-links${query({ organization_id: org })}`),
        api("GET", `/v1/organizations/${org}/members`),
        api("GET", `/v1/destinations${query({ organization_id: org })}`).catch(() => ({ items: [] })),
      ]);
      if (mine !== generation) return;
      c.link.replaceChildren(...links.items.map((l) => h("option", { value: l.id, selected: s && s.shared_link_id === l.id },
        l.title || l.slug)));
      if (!links.items.length) c.link.append(h("option", { value: "" }, "No shared links in this organization"));
      c.user.replaceChildren(h("option", { value: "" }, "Choose a person"),
        ...members.items.map((m) => h("option", { value: m.user_id }, m.full_name ? `${m.full_name} <${m.email}>` : m.email)));
      for (const r of recipients) {
        const m = r.user_id && members.items.find((x) => x.user_id === r.user_id);
        if (m) r.label = m.email;
      }
      drawRecipients();
      const own = s ? await api("GET", `/v1/destinations${query({ schedule_id: s.id })}`).catch(() => ({ items: [] })) : { items: [] };
      const all = [...own.items, ...destinations.items.filter((d) => !own.items.some((o) => o.id === d.id))];
      destinationBoxes.replaceChildren(...DESTINATION_CHANNELS.map(([channel, label]) => {
        const list = all.filter((d) => d.channel === channel);
        const names = list.map((d) => d.label || d.target).join(", ");
        const box = h("input", { type: "checkbox", id: `f-ch-${channel}`, "data-channel": channel,
          checked: s ? s.channels.includes(channel) : false, disabled: !list.length && !(s && s.channels.includes(channel)) });
        return h("div", { className: "check" }, box, h("label", { for: `f-ch-${channel}` },
          list.length ? `${label}: ${names}` : `${label} (no destination in this organization)`));
      }));
    }

    const form = h("form", { className: "schedule card", novalidate: true },
      s || orgs.length < 2 ? null : field("f-org", "Organization", c.org),
      h("div", { className: "row" }, field("f-name", "Name", c.name), field("f-link", "Shared link", c.link)),
      h("div", { className: "row" }, field("f-cadence", "Cadence", c.cadence), timeField, dowField, domField),
      h("div", { className: "row" }, field("f-zone", "Time zone", c.zone), cronField, field("f-format", "Format", c.format)),
      h("fieldset", { id: "f-formats", "aria-describedby": "f-formats-error" }, h("legend", {}, "Also send as (up to two)"),
        h("div", { className: "row" }, alsoBoxes.map((box) => h("div", { className: "check" }, box,
          h("label", { for: box.id }, box.dataset.format)))),
        h("p", { className: "error", id: "f-formats-error", "data-error-for": "f-formats" })),
      zoneList,
      h("div", { className: "row" }, field("f-starts", "Starts on (optional)", c.starts),
        field("f-ends", "Ends on (optional)", c.ends)),
      h("section", { className: "fires card", "aria-labelledby": "fires-h" }, h("h2", { id: "fires-h" }, "Next fires"), firesNote, fires),
      h("fieldset", {}, h("legend", {}, "Send conditions"),
        h("div", { className: "check" }, c.skipEmpty, h("label", { for: "f-skip" }, "Skip if empty")),
        field("f-minrows", "Minimum rows", c.minRows),
        h("div", { className: "check" }, c.onlyChanged, h("label", { for: "f-changed" }, "Only if changed"))),
      h("fieldset", {}, h("legend", {}, "Templates"),
        field("f-subject", "Subject template", c.subject),
        field("f-message", "Message template", c.message),
        h("p", { className: "muted" }, "Placeholders such as {{ schedule_name }}, {{ fire_date }}, {{ rows }} and {{ total_views }} are filled in when sent.")),
      h("fieldset", { id: "f-recipients" }, h("legend", {}, "Recipients"),
        h("div", { className: "row" },
          h("div", { className: "check" }, c.sendEmail, h("label", { for: "f-send-email" }, "Send by email")),
          h("div", { className: "check" }, c.sendTelegram, h("label", { for: "f-send-telegram" }, "Send by Telegram"))),
        recipientList,
        h("div", { className: "row" },
          h("div", { className: "field" }, h("label", { for: "f-email" }, "Email address"), c.email,
            h("button", { type: "button", className: "secondary", onclick: () => {
              const value = c.email.value.trim();
              if (value) { addRecipient({ channel: "email", email: value, label: value }); c.email.value = ""; }
            } }, "Add email")),
          h("div", { className: "field" }, h("label", { for: "f-user" }, "Organization user"), c.user,
            h("button", { type: "button", className: "secondary", onclick: () => {
              if (!c.user.value) return;
              const label = c.user.selectedOptions[0].textContent;
              addRecipient({ channel: "email", user_id: c.user.value, label });
            } }, "Add user")),
          h("div", { className: "field" }, h("label", { for: "f-chat" }, "Telegram chat id"), c.chat,
            h("button", { type: "button", className: "secondary", onclick: () => {
              const value = c.chat.value.trim();
              if (/^-?[0-9]{1,19}$/.test(value)) { addRecipient({ channel: "telegram", telegram_chat_id: Number(value), label: value }); c.chat.value = ""; }
              else form.querySelector('[data-error-for="f-recipients"]').textContent = "A Telegram chat id is a whole number, e.g. -1001234567890.";
            } }, "Add chat"))),
        h("p", { className: "muted" }, "The organization's stored destinations:"),
        destinationBoxes,
        h("p", { className: "error", "data-error-for": "f-recipients" })),
      general,
      h("div", { className: "actions" }, save, h("a", { href: s ? `#/schedules/${s.id}` : "#/schedules", className: "button secondary" }, "Cancel")));
    // Ids for the controls whose labels sit beside them rather than in field().
    for (const [el, elId] of [[c.skipEmpty, "f-skip"], [c.onlyChanged, "f-changed"], [c.sendEmail, "f-send-email"],
      [c.sendTelegram, "f-send-telegram"], [c.email, "f-email"], [c.user, "f-user"], [c.chat, "f-chat"]]) el.id = elId;

    c.org.addEventListener("change", () => {
      org = c.org.value;
      recipients.length = 0;
      save.disabled = true;
      loadOrgLists().then(() => { save.disabled = false; }, (err) => { general.textContent = err.message; });
    });
    c.cadence.addEventListener("change", () => { showTiming(); schedulePreview(); });
    c.format.addEventListener("change", markMain);
    for (const el of [c.time, c.dow, c.dom, c.zone, c.cron, c.starts, c.ends]) {
      el.addEventListener("input", schedulePreview);
      el.addEventListener("change", schedulePreview);
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors();
      general.textContent = "";
      const wanted = recipients.map((r) => (r.channel === "telegram" ? { channel: "telegram", telegram_chat_id: r.telegram_chat_id }
        : r.user_id ? { channel: "email", user_id: r.user_id } : { channel: "email", email: r.email }));
      const body = {
        ...timing(),
        name: c.name.value.trim(),
        shared_link_id: c.link.value || undefined,
        formats: [c.format.value, ...alsoBoxes.filter((b) => b.checked && !b.disabled).map((b) => b.dataset.format)],
        skip_if_empty: c.skipEmpty.checked,
        min_rows: Number(c.minRows.value || 0),
        only_if_changed: c.onlyChanged.checked,
        subject_template: c.subject.value.trim() || null,
        message_template: c.message.value.trim() || null,
        send_email: c.sendEmail.checked,
        send_telegram: c.sendTelegram.checked,
        channels: [...destinationBoxes.querySelectorAll("input:checked")].map((b) => b.dataset.channel),
      };
      if (!body.name) delete body.name;
      save.disabled = true;
      try {
        let saved;
        if (s) {
          saved = await api("PATCH", `/v1/schedules/${s.id}`, body);
          saved = await api("PUT", `/v1/schedules/${s.id}/recipients`, { recipients: wanted });
        } else {
          for (const key of ["subject_template", "message_template", "starts_at", "ends_at"]) {
            if (body[key] === null) delete body[key];
          }
          saved = await api("POST", "/v1/schedules", { ...body, recipients: wanted });
        }
        location.hash = `#/schedules/${saved.id}`;
      } catch (err) {
        if (!showErrors(err)) general.textContent = err.message;
        else general.textContent = "Check the fields marked above.";
        save.disabled = false;
      }
    });
    showTiming();
    markMain();
    // Save waits for the organization's lists: saving before them would send an empty choice of destinations.
    save.disabled = true;
    loadOrgLists().then(() => { save.disabled = false; }, (err) => { general.textContent = err.message; });
    schedulePreview();
    return form;
  }

  // ---- Runs across schedules ---------------------------------------------------------------------------------
  function localTimes() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "your browser's time zone";
    return h("p", { className: "muted" }, `Times are in ${zone}, this browser's time zone.`);
  }

  async function runsPage(state) {
    const status = h("select", { id: "status" }, h("option", { value: "" }, "Any status"),
      options(STATUSES.map((x) => [x, x]), state.status));
    const period = h("select", { id: "period" }, options([["", "Any time"], ["1", "Last 24 hours"], ["7", "Last 7 days"],
      ["30", "Last 30 days"]], state.days || ""));
    for (const [control, key] of [[status, "status"], [period, "days"]]) {
      control.addEventListener("change", () => runsPage({ ...state, [key]: control.value, since: "", cursors: [] })
        .then(() => document.getElementById(control.id).focus()));
    }
    // The start of the period is fixed when the filter is chosen, so paging keeps the same window.
    const since = state.days ? new Date(Date.now() - Number(state.days) * 86400000).toISOString() : "";
    state.since = state.since || since;
    await pagedTable({
      title: "Runs", state, again: runsPage, intro: localTimes(),
      toolbar: h("div", { className: "toolbar" }, h("label", { for: "status" }, "Status", status),
        h("label", { for: "period" }, "Period", period)),
      columns: ["Schedule", "Fire time", "Trigger", "Status", "Rows", "Size", "Duration"],
      url: (cursor) => `/v1/runs${query({ organization_id: chosenOrg(), status: state.status, since: state.since,
        limit: PAGE, cursor })}`,
      row: (run) => h("tr", {},
        h("td", {}, h("a", { href: `#/schedules/${run.schedule_id}` }, run.schedule_name || run.schedule_id)),
        h("td", {}, inZone(run.fire_at, null)),
        h("td", {}, run.trigger),
        h("td", {}, statusText(run.status), run.error ? h("div", { className: "muted" }, run.error) : null),
        h("td", { className: "num" }, num(run.row_count)),
        h("td", { className: "num" }, bytes(run.byte_count)),
        h("td", { className: "num" }, duration(run))),
      empty: state.status ? `No ${state.status} runs.` : "No runs yet.",
    });
  }

  // ---- Dead letters ------------------------------------------------------------------------------------------
  async function deadLettersPage(state) {
    await pagedTable({
      title: "Dead letters", state, again: deadLettersPage,
      intro: h("p", { className: "muted" }, "Runs that failed every attempt. Replay one once the cause is fixed. ",
        localTimes().textContent),
      columns: ["Time", "Schedule", "Reason", "Attempts", "Replay"],
      url: (cursor) => `/v1/dead-letters${query({ organization_id: chosenOrg(), limit: PAGE, cursor })}`,
      row: deadLetterRow,
      empty: "No dead letters.",
    });
  }

  function deadLetterRow(letter) {
    const scheduleId = letter.payload && typeof letter.payload === "object" ? letter.payload.schedule_id : null;
    const result = h("span", { role: "status" });
    const replayed = Boolean(letter.replayed_at);
    const replay = h("button", { type: "button", disabled: replayed || !canWrite(letter.organization_id) }, "Replay");
    if (replayed) result.textContent = " already replayed";
    replay.addEventListener("click", async () => {
      replay.disabled = true;
      try {
        const accepted = await api("POST", `/v1/dead-letters/${letter.id}/replay`);
        const text = `New run ${accepted.run_id.slice(0, 8)}`;
        result.replaceChildren(" ", scheduleId ? h("a", { href: `#/schedules/${scheduleId}` }, text) : text,
          accepted.warning ? ` (${accepted.warning})` : "");
      } catch (err) {
        result.textContent = err.status === 409 ? " already replayed" : ` ${err.message}`;
        if (err.status !== 409) replay.disabled = false;
      }
    });
    return h("tr", {},
      h("td", {}, inZone(letter.failed_at, null)),
      h("td", {}, scheduleId ? h("a", { href: `#/schedules/${scheduleId}` }, "Schedule") : "—"),
      h("td", {}, letter.error),
      h("td", { className: "num" }, num(letter.attempts)),
      h("td", {}, replay, result));
  }

  // ---- Routing -----------------------------------------------------------------------------------------------
  async function route() {
    generation += 1;
    clearTimers();
    const open = document.querySelector("dialog[open]");
    if (open) open.close();
    if (!token()) { showSignIn(""); return; }
    if (!me) {
      try {
        me = await api("GET", "/v1/me");
      } catch (err) {
        if (err.status !== 401) render(failure(err));
        return;
      }
    }
    const parts = (location.hash || "#/schedules").slice(2).split("/");
    showHeader();
    main.focus({ preventScroll: true });
    if (parts[0] === "schedules" && parts[1] && parts[2] === "edit") return formPage(parts[1]);
    if (parts[0] === "schedules" && parts[1]) return schedulePage(parts[1]);
    if (parts[0] === "new") return formPage(null);
    if (parts[0] === "runs") return runsPage({ status: "", cursors: [] });
    if (parts[0] === "dead-letters") return deadLettersPage({ cursors: [] });
    return schedulesPage({ name: "", cursors: [] });
  }

  document.getElementById("sign-out").addEventListener("click", () => {
    signOut("");
    history.replaceState(null, "", location.pathname);
  });
  window.addEventListener("hashchange", route);
  route();
})();

// warren console page. Plain browser JavaScript, no dependencies, no build.
//
// Everything that comes from the broker (queue names, message bodies, error
// messages, header values) reaches the DOM through textContent or
// createTextNode only, never as HTML: a dead letter can hold anything. The
// server's Content-Security-Policy allows no inline script as a second wall.
//
// The token printed by `warren console` arrives in the URL's fragment
// (#token=...), which browsers never send to a server; it is kept in
// sessionStorage, removed from the address bar, and sent in the
// x-warren-token header of every API call.

const TOKEN_KEY = "warren-console-token";
const STATS_POLL_MS = 3000;
const NO_TOKEN =
  "No token: open the URL that `warren console` printed at start (it ends with #token=...).";

const state = {
  token: null,
  topology: null,
  stats: null,
  dead: null, // { queue, listing, selected: Map(key -> {position, messageId}) }
  filters: { reason: "", errorType: "" },
  confirmAction: null,
};

// ---- DOM helpers ------------------------------------------------------------

const $ = (id) => document.getElementById(id);

/** An element with attributes (never innerHTML) and children (strings become text nodes). */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  node.replaceChildren();
}

function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = text === "";
}

const fmtRate = (n) => (n >= 10 ? n.toFixed(0) : n.toFixed(1));
const fmtNum = (n) => (n === undefined || n === null ? "–" : String(n));
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// ---- API ----------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, body) {
  const headers = { accept: "application/json" };
  if (state.token !== null) headers["x-warren-token"] = state.token;
  const init = { method: body === undefined ? "GET" : "POST", headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const type = response.headers.get("content-type") ?? "";
  if (!type.startsWith("application/json")) {
    if (!response.ok) throw new ApiError(response.status, "HTTP", `HTTP ${response.status}`);
    return response.text();
  }
  const json = await response.json();
  if (!response.ok || json.ok === false) {
    const error = json.error ?? {};
    throw new ApiError(
      response.status,
      error.code ?? "HTTP",
      error.message ?? `HTTP ${response.status}`,
    );
  }
  return json;
}

function describe(error) {
  if (error instanceof ApiError) {
    const refused = error.status === 403 ? "refused (403): " : "";
    return `${refused}${error.message} [${error.code}]`;
  }
  return String(error?.message ?? error);
}

// ---- token ------------------------------------------------------------------

function readToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match !== null) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);
  }
  state.token = sessionStorage.getItem(TOKEN_KEY);
  if (state.token === null) {
    showBanner(NO_TOKEN);
  }
}

// ---- queues -----------------------------------------------------------------

function drawChart(canvas, queue) {
  const history = state.stats?.history ?? [];
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = "#d8dde6";
  ctx.strokeRect(0.5, 0.5, width - 1, height - 1);
  if (history.length < 2) return;
  const series = { publish: "#4a6fd1", deliver: "#2f8f4e", ack: "#d07a1c" };
  let max = 1;
  for (const sample of history) {
    const r = sample.rates[queue];
    if (r) max = Math.max(max, r.publish, r.deliver, r.ack);
  }
  const first = history[0].at;
  const span = Math.max(1, history[history.length - 1].at - first);
  for (const [key, color] of Object.entries(series)) {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    history.forEach((sample, i) => {
      const value = sample.rates[queue]?.[key] ?? 0;
      const x = 2 + ((sample.at - first) / span) * (width - 4);
      const y = height - 2 - (value / max) * (height - 4);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

// Dead letters a quorum queue holds until their target accepts them
// (docs/operations.md#held-dead-letters): shown after the ready count.
const heldSuffix = (depth) => ((depth.held ?? 0) > 0 ? ` (${fmtNum(depth.held)} held)` : "");

function depthCell(depth, className) {
  if (!depth.exists) return el("td", { className: `num missing ${className}` }, "absent");
  const nonzero = (depth.ready ?? 0) > 0 ? " nonzero" : "";
  return el(
    "td",
    { className: `num ${className}${nonzero}` },
    `${fmtNum(depth.ready)}${heldSuffix(depth)}`,
  );
}

function renderQueues() {
  const tbody = $("queues").querySelector("tbody");
  clear(tbody);
  for (const queue of state.stats?.queues ?? []) {
    const [work, ...rest] = queue.queues;
    const dlq = rest.pop();
    const canvas = el("canvas", { width: 160, height: 36, className: "chart" });
    const tiers = el(
      "td",
      { className: "tiers" },
      rest.length === 0 ? el("span", { className: "missing" }, "none") : null,
      rest.map((t) =>
        el(
          "span",
          { className: "tier-depth", dataset: { queue: t.name } },
          `${t.name.slice(queue.name.length + 1)}: ${t.exists ? `${fmtNum(t.ready)}${heldSuffix(t)}` : "absent"}`,
        ),
      ),
    );
    tbody.append(
      el(
        "tr",
        { dataset: { queue: queue.name } },
        el("td", { className: "name" }, queue.name),
        depthCell(work, "depth-ready"),
        el("td", { className: "num depth-unacked" }, fmtNum(work.unacked)),
        el("td", { className: "num consumers" }, fmtNum(work.consumers)),
        tiers,
        depthCell(dlq, "depth-dlq"),
        el("td", { className: "num rate-publish" }, fmtRate(queue.rates.publish)),
        el("td", { className: "num rate-deliver" }, fmtRate(queue.rates.deliver)),
        el("td", { className: "num rate-ack" }, fmtRate(queue.rates.ack)),
        el("td", {}, canvas),
        el(
          "td",
          {},
          el(
            "button",
            { type: "button", className: "open-dlq", onclick: () => openDeadLetters(queue.name) },
            "dead letters",
          ),
        ),
      ),
    );
    drawChart(canvas, queue.name);
  }
}

async function refreshStats() {
  try {
    state.stats = await api("/api/stats");
    renderQueues();
    const at = state.stats.at ? new Date(state.stats.at).toLocaleTimeString() : "never";
    $("updated").textContent = state.stats.error
      ? `management API: ${state.stats.error}`
      : `updated ${at}, every ${state.stats.intervalMs / 1000}s`;
  } catch (error) {
    $("updated").textContent = `stats: ${describe(error)}`;
  }
}

// ---- dead letters -----------------------------------------------------------

const letterKey = (letter) => JSON.stringify([letter.position, letter.messageId ?? null]);

function matchesFilters(letter) {
  const { reason, errorType } = state.filters;
  return (
    (reason === "" || (letter.reason ?? "(none)") === reason) &&
    (errorType === "" || (letter.errorType ?? "(none)") === errorType)
  );
}

function fillSelect(select, values, current) {
  clear(select);
  select.append(el("option", { value: "" }, "all"));
  for (const value of values) {
    select.append(el("option", { value, selected: value === current }, value));
  }
}

function renderGroups(listing) {
  const tbody = $("groups").querySelector("tbody");
  clear(tbody);
  for (const group of listing.groups) {
    tbody.append(
      el(
        "tr",
        { className: "group" },
        el("td", { className: "group-reason" }, group.reason ?? "(none)"),
        el("td", { className: "group-error" }, group.errorType ?? "(none)"),
        el("td", { className: "num group-count" }, group.count),
        el("td", {}, group.firstFailedAt ?? "–"),
        el("td", {}, group.lastFailedAt ?? "–"),
        el("td", { className: "error-line" }, group.exampleMessage ?? ""),
        el(
          "td",
          {},
          el(
            "button",
            {
              type: "button",
              onclick: () => {
                state.filters = {
                  reason: group.reason ?? "(none)",
                  errorType: group.errorType ?? "(none)",
                };
                renderDeadLetters();
              },
            },
            "show",
          ),
          " ",
          el(
            "button",
            { type: "button", className: "replay-group", onclick: () => confirmReplayGroup(group) },
            "replay group…",
          ),
        ),
      ),
    );
  }
}

function headerValue(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function renderLetter(letter) {
  const key = letterKey(letter);
  const checkbox = el("input", {
    type: "checkbox",
    className: "select",
    checked: state.dead.selected.has(key),
    onchange: (event) => {
      if (event.target.checked)
        state.dead.selected.set(key, {
          position: letter.position,
          messageId: letter.messageId ?? null,
        });
      else state.dead.selected.delete(key);
      updateSelection();
    },
  });
  const origin = `${letter.originalExchange ?? ""} / ${letter.originalRoutingKey ?? ""}`;
  const body =
    letter.bodyEncoding === "base64" ? `(base64) ${letter.bodyPreview}` : letter.bodyPreview;
  const headers = el("dl", { className: "headers" });
  for (const [name, value] of Object.entries(letter.headers)) {
    headers.append(el("dt", {}, name), el("dd", { className: "header-value" }, headerValue(value)));
  }
  return el(
    "li",
    {
      className: "letter",
      dataset: { messageId: letter.messageId ?? "", position: letter.position },
    },
    el(
      "div",
      { className: "letter-head" },
      el("label", {}, checkbox, ` #${letter.position}`),
      el("strong", { className: "message-id" }, letter.messageId ?? "(no messageId)"),
      el("span", { className: "reason" }, letter.reason ?? "(no reason)"),
      el(
        "span",
        { className: "facts" },
        `attempts ${fmtNum(letter.attempts)} · first failed ${letter.firstFailedAt ?? "–"} · last failed ${letter.failedAt ?? "–"}`,
      ),
    ),
    el(
      "div",
      { className: "error-line" },
      el("span", { className: "error-type" }, letter.errorType ?? "Error"),
      ": ",
      el("span", { className: "error-message" }, letter.errorMessage ?? ""),
    ),
    el(
      "div",
      { className: "facts" },
      `published to ${origin} · ${plural(letter.bodyBytes, "byte")}`,
      letter.replayCount > 0 ? ` · replayed ${letter.replayCount}×` : "",
    ),
    el("pre", { className: "body" }, body + (letter.bodyTruncated ? " …" : "")),
    letter.errorStack
      ? el(
          "details",
          {},
          el("summary", {}, "stack"),
          el("pre", { className: "stack" }, letter.errorStack),
        )
      : null,
    el("details", { className: "headers-details" }, el("summary", {}, "headers"), headers),
  );
}

function updateSelection() {
  const n = state.dead?.selected.size ?? 0;
  const button = $("replay-selected");
  button.disabled = n === 0;
  button.textContent = n === 0 ? "Replay selected" : `Replay ${plural(n, "selected message")}…`;
}

function renderDeadLetters() {
  const { listing } = state.dead;
  $("dl-queue").textContent = listing.queue;
  const shown = listing.messages.length;
  $("dl-summary").textContent =
    `${listing.deadLetterQueue} holds ${plural(listing.total, "message")}` +
    (shown < listing.total ? ` (showing the first ${shown})` : "") +
    `; replays go to ${listing.queue}.`;
  const reasons = [...new Set(listing.messages.map((m) => m.reason ?? "(none)"))].sort();
  const types = [...new Set(listing.messages.map((m) => m.errorType ?? "(none)"))].sort();
  fillSelect($("filter-reason"), reasons, state.filters.reason);
  fillSelect($("filter-error"), types, state.filters.errorType);
  renderGroups(listing);
  const list = $("messages");
  clear(list);
  for (const letter of listing.messages.filter(matchesFilters)) list.append(renderLetter(letter));
  updateSelection();
}

async function openDeadLetters(queue) {
  $("dead-letters-section").hidden = false;
  if (state.dead?.queue !== queue) {
    state.filters = { reason: "", errorType: "" };
    setResult("");
  }
  $("dl-queue").textContent = queue;
  $("dl-summary").textContent = "reading…";
  try {
    const listing = await api(`/api/dead-letters?queue=${encodeURIComponent(queue)}&limit=200`);
    state.dead = { queue, listing, selected: new Map() };
    renderDeadLetters();
  } catch (error) {
    $("dl-summary").textContent = describe(error);
  }
}

// ---- actions ----------------------------------------------------------------

function setResult(text, isError = false) {
  const result = $("result");
  result.textContent = text;
  result.className = isError ? "error" : "";
}

function confirmStep(title, text, action) {
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  state.confirmAction = action;
  $("confirm").showModal();
}

async function runConfirmed() {
  const action = state.confirmAction;
  state.confirmAction = null;
  $("confirm").close();
  if (action === null) return;
  try {
    setResult(await action());
  } catch (error) {
    setResult(describe(error), true);
  }
  await Promise.all([openDeadLetters(state.dead.queue), refreshStats()]);
}

function replayOutcome(result, asked) {
  const left = result.total - result.replayed;
  const stale =
    asked !== undefined && result.replayed < asked
      ? ` ${asked - result.replayed} of the selected were no longer at their place (the queue changed): reload and select again.`
      : "";
  return `Replayed ${plural(result.replayed, "message")} from ${result.deadLetterQueue} to ${result.queue}; ${plural(left, "message")} left in ${result.deadLetterQueue}.${stale}`;
}

async function confirmReplay(select, asked) {
  const queue = state.dead.queue;
  try {
    // A dry run first, so the confirmation says how many will move.
    const dry = await api("/api/replay", { queue, select, dryRun: true });
    confirmStep(
      `Replay ${plural(dry.replayed, "dead letter")}?`,
      `They go back to ${dry.queue} with their attempt count reset to 1. Each copy is confirmed by the broker before its dead letter is removed from ${dry.deadLetterQueue}; the others stay there in order.`,
      async () => replayOutcome(await api("/api/replay", { queue, select }), asked),
    );
  } catch (error) {
    setResult(describe(error), true);
  }
}

function confirmReplaySelected() {
  const messages = [...state.dead.selected.values()];
  if (messages.length > 0) void confirmReplay({ kind: "messages", messages }, messages.length);
}

function confirmReplayGroup(group) {
  void confirmReplay({ kind: "group", reason: group.reason, errorType: group.errorType });
}

function confirmPurge() {
  const { queue, listing } = state.dead;
  confirmStep(
    `Purge ${listing.deadLetterQueue}?`,
    `Every message in ${listing.deadLetterQueue} (${plural(listing.total, "message")} when last read) is deleted for good. This cannot be undone; replay what you want to keep first.`,
    async () => {
      const result = await api("/api/purge", { queue, confirm: true });
      return `Purged ${plural(result.purged, "message")} from ${result.deadLetterQueue}.`;
    },
  );
}

// ---- start ------------------------------------------------------------------

async function loadTopology() {
  try {
    const info = await api("/api/info");
    $("where").textContent =
      `vhost ${info.vhost} on ${info.broker} · management ${info.managementUrl} · queues from ${info.source === "file" ? "the topology file" : "the broker"}`;
    const svg = await api("/api/topology.svg");
    const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
    $("topology").src = url;
  } catch (error) {
    showBanner(state.token === null ? `${NO_TOKEN} ${describe(error)}` : describe(error));
  }
}

function start() {
  readToken();
  $("confirm-ok").addEventListener("click", () => void runConfirmed());
  $("confirm-cancel").addEventListener("click", () => {
    state.confirmAction = null;
    $("confirm").close();
  });
  $("replay-selected").addEventListener("click", confirmReplaySelected);
  $("purge").addEventListener("click", confirmPurge);
  $("dl-reload").addEventListener("click", () => void openDeadLetters(state.dead.queue));
  $("dl-close").addEventListener("click", () => {
    $("dead-letters-section").hidden = true;
    state.dead = null;
  });
  $("select-shown").addEventListener("click", () => {
    for (const letter of state.dead.listing.messages.filter(matchesFilters)) {
      state.dead.selected.set(letterKey(letter), {
        position: letter.position,
        messageId: letter.messageId ?? null,
      });
    }
    renderDeadLetters();
  });
  $("filter-reason").addEventListener("change", (event) => {
    state.filters.reason = event.target.value;
    renderDeadLetters();
  });
  $("filter-error").addEventListener("change", (event) => {
    state.filters.errorType = event.target.value;
    renderDeadLetters();
  });
  void loadTopology();
  void refreshStats();
  setInterval(() => void refreshStats(), STATS_POLL_MS);
}

start();

// The overview's live numbers (portal/home.html): a WebSocket on the tenant's event stream says
// that something happened (a call started, ended, was analysed; a tool ran); the page then
// re-reads the server-rendered numbers once (never polling), and active calls' durations tick.
// What each active call is doing (call.state: listening, thinking, speaking, running a tool)
// comes in the event itself and is shown at once.

const live = document.getElementById("live");
const statusLine = document.getElementById("live-status");
let refreshTimer = null;
let retryDelay = 1000;
const STATE_LABELS = { listening: "Listening", thinking: "Thinking", speaking: "Speaking",
  tool: "Running a tool" };
const latestStates = new Map(); // call id → state, re-applied after each refresh

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${live.dataset.socketPath}`;
}

async function refresh() {
  refreshTimer = null;
  try {
    const response = await fetch(live.dataset.fragmentUrl, { credentials: "same-origin" });
    if (response.ok) {
      live.innerHTML = await response.text();
      tick();
      showStates();
    }
  } catch {
    // offline for a moment: the next event refreshes again
  }
}

function scheduleRefresh() {
  if (refreshTimer === null) refreshTimer = setTimeout(refresh, 250); // one read per burst
}

function tick() {
  const now = Date.now() / 1000;
  for (const badge of live.querySelectorAll("[data-started]")) {
    const seconds = Math.max(0, Math.round(now - Number(badge.dataset.started)));
    badge.textContent = `live · ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }
}

function showStates() {
  for (const badge of live.querySelectorAll("[data-call-state]")) {
    const state = latestStates.get(badge.dataset.callState);
    if (!state || !STATE_LABELS[state]) continue;
    badge.dataset.state = state;
    badge.textContent = STATE_LABELS[state];
    badge.hidden = false;
  }
}

function onStates(payload) {
  for (const [callId, state] of Object.entries(payload.states || {})) {
    latestStates.set(callId, state);
  }
  showStates();
}

function connect() {
  const socket = new WebSocket(socketUrl());
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    statusLine.textContent = "Live: updates as calls happen.";
    statusLine.dataset.state = "live";
    scheduleRefresh(); // anything missed while disconnected
  });
  socket.addEventListener("message", (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    if (event.event === "call.state") onStates(event.payload || {});
    // Turns are for the pages of live calls; the overview's numbers do not change with them.
    else if (event.event !== "turn.completed") scheduleRefresh();
  });
  socket.addEventListener("close", () => {
    statusLine.textContent = "Reconnecting to live updates…";
    statusLine.dataset.state = "offline";
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  });
}

if (live) {
  tick();
  setInterval(tick, 1000);
  connect();
}

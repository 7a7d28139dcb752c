// A call's page while the call is going on (portal/calls/detail.html): the tenant's event
// stream says turns of some calls were saved (turn.completed: their ids), and the page re-reads
// the server-rendered transcript once per burst; when the call ends (call.completed) the whole
// page is read again, with its outcome, analysis and costs. What the call is doing now
// (call.state: listening, thinking, speaking, running a tool) is shown as it changes.

const banner = document.getElementById("call-live");
const statusLine = document.getElementById("call-live-status");
const callId = Number(banner.dataset.callId);
let refreshTimer = null;
let retryDelay = 1000;
let ended = false;
const stateBadge = document.getElementById("call-state");
const STATE_LABELS = { listening: "Listening", thinking: "Thinking", speaking: "Speaking",
  tool: "Running a tool" };

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${banner.dataset.socketPath}`;
}

async function refreshTranscript() {
  refreshTimer = null;
  try {
    const response = await fetch(banner.dataset.fragmentUrl, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html")
      .getElementById("transcript");
    const current = document.getElementById("transcript");
    if (fresh && current) current.replaceWith(fresh);
  } catch {
    // offline for a moment: the next turn refreshes again
  }
}

function onEvent(message) {
  let event;
  try {
    event = JSON.parse(message.data);
  } catch {
    return;
  }
  if (!event.payload) return;
  if (event.event === "turn.completed") {
    const calls = event.payload.call_ids || [];
    if (calls.includes(callId) && refreshTimer === null) {
      refreshTimer = setTimeout(refreshTranscript, 150);
    }
  } else if (event.event === "call.state") {
    const state = (event.payload.states || {})[String(callId)];
    if (state && STATE_LABELS[state] && stateBadge) {
      stateBadge.dataset.state = state;
      stateBadge.textContent = STATE_LABELS[state];
      stateBadge.hidden = false;
    }
  } else if (event.event === "call.completed" && Number(event.payload.call_id) === callId) {
    ended = true;
    statusLine.textContent = "The call has ended: loading its outcome…";
    window.location.reload();
  }
}

function connect() {
  const socket = new WebSocket(socketUrl());
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    refreshTranscript(); // anything said while disconnected
  });
  socket.addEventListener("message", onEvent);
  socket.addEventListener("close", () => {
    if (ended) return;
    statusLine.textContent = "Reconnecting to the live call…";
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  });
}

connect();

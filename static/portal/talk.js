// The browser test call (portal/agents/talk.html): the microphone streams 20 ms µ-law frames
// over a WebSocket into the same call engine as a phone call; the agent's audio plays back
// through an AudioWorklet (flushed on `clear`: barge-in); the transcript appears as turns are
// saved. The wire speaks the media-stream subset of Twilio's protocol
// (calls/realtime/serializers/browser.py).

const root = document.getElementById("talk");
const startButton = document.getElementById("talk-start");
const stopButton = document.getElementById("talk-stop");
const statusLine = document.getElementById("talk-status");
const transcript = document.getElementById("talk-transcript");
const emptyNote = document.getElementById("talk-empty");
const keypad = document.getElementById("talk-keypad");
const KEYS = "0123456789*#";

let call = null; // {socket, context, stream, capture, playback}

function setStatus(text) {
  statusLine.textContent = text;
}

function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 1) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

function fromBase64(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${root.dataset.socketPath}`;
}

const STAGES = [
  ["stt_final_ms", "speech to text"],
  ["llm_first_token_ms", "first word from the model"],
  ["tts_first_audio_ms", "first audio synthesised"],
  ["first_frame_ms", "first audio sent"],
];

function latencyLine(latency) {
  const total = latency.first_frame_ms;
  if (total === undefined) return "";
  const parts = STAGES.filter(([key]) => latency[key] !== undefined)
    .map(([key, label]) => `${label} ${latency[key]} ms`);
  return `Answered ${total} ms after you stopped speaking (${parts.join(" · ")}).`;
}

function showTurn(turn) {
  emptyNote.hidden = true;
  const item = document.createElement("li");
  item.className = `bubble bubble--${turn.role}`;
  item.dataset.role = turn.role;
  const who = document.createElement("p");
  who.className = "bubble__who";
  who.textContent = turn.role === "agent" ? "Agent" : "You";
  if (turn.interrupted) {
    const note = document.createElement("span");
    note.className = "muted small";
    note.textContent = " · interrupted";
    who.append(note);
  }
  const text = document.createElement("p");
  text.className = "bubble__text";
  text.textContent = turn.text || (turn.role === "agent" ? "(cut off before it spoke)" : "(nothing heard)");
  item.append(who, text);
  const latency = latencyLine(turn.latency_ms || {});
  if (latency) {
    const line = document.createElement("p");
    line.className = "small muted talk__latency";
    line.textContent = latency;
    item.append(line);
  }
  transcript.append(item);
  item.scrollIntoView({ block: "nearest" });
}

function onServerMessage(event) {
  let message;
  try {
    message = JSON.parse(event.data);
  } catch {
    return; // not ours to understand
  }
  if (message.event === "media") {
    call.playback.port.postMessage({ type: "audio", bytes: fromBase64(message.media.payload) });
  } else if (message.event === "mark") {
    call.playback.port.postMessage({ type: "mark", name: message.mark.name });
  } else if (message.event === "clear") {
    call.playback.port.postMessage({ type: "clear" });
  } else if (message.event === "transcript") {
    showTurn(message.turn);
  }
}

async function openAudio() {
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  let context;
  try {
    context = new AudioContext({ sampleRate: 8000, latencyHint: "interactive" }); // the line's rate
  } catch {
    context = new AudioContext({ latencyHint: "interactive" }); // the worklets resample
  }
  await context.audioWorklet.addModule(root.dataset.workletUrl);
  const capture = new AudioWorkletNode(context, "mulaw-capture", { numberOfOutputs: 0 });
  const playback = new AudioWorkletNode(context, "mulaw-playback", {
    numberOfInputs: 0, outputChannelCount: [1],
  });
  context.createMediaStreamSource(stream).connect(capture);
  playback.connect(context.destination);
  await context.resume();
  return { stream, context, capture, playback };
}

function setKeypad(enabled) {
  keypad.querySelectorAll("button").forEach((key) => { key.disabled = !enabled; });
}

// A key as a phone sends it (Twilio's `dtmf` event): menus, account numbers, and card digits
// during secure capture, which reach only the payment tool and never the transcript.
function pressKey(digit) {
  if (!call || call.socket.readyState !== WebSocket.OPEN || !KEYS.includes(digit)) return;
  call.socket.send(JSON.stringify({ event: "dtmf", dtmf: { track: "inbound_track", digit } }));
  const key = keypad.querySelector(`[data-digit="${CSS.escape(digit)}"]`);
  key.classList.add("keypad__key--pressed");
  setTimeout(() => key.classList.remove("keypad__key--pressed"), 150);
}

function closeAudio(audio) {
  audio.capture.port.onmessage = null;
  audio.stream.getTracks().forEach((track) => track.stop());
  audio.context.close();
}

async function startCall() {
  startButton.disabled = true;
  setStatus("Asking for the microphone…");
  let audio;
  try {
    audio = await openAudio();
  } catch (error) {
    startButton.disabled = false;
    setStatus(`No microphone: ${error.message || error}. Allow it for this site and try again.`);
    return;
  }
  setStatus("Connecting…");
  const socket = new WebSocket(socketUrl());
  call = { socket, ...audio };
  socket.addEventListener("open", () => {
    setStatus("Connected: speak when you like. The agent hears you as a caller on the phone.");
    stopButton.disabled = false;
    setKeypad(true);
    audio.capture.port.onmessage = (event) => {
      if (socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ event: "media", media: { payload: toBase64(event.data) } }));
      }
    };
    audio.playback.port.onmessage = (event) => {
      if (event.data.type === "mark" && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ event: "mark", mark: { name: event.data.name } }));
      }
    };
  });
  socket.addEventListener("message", onServerMessage);
  socket.addEventListener("close", (event) => {
    const connected = !stopButton.disabled || transcript.children.length > 0;
    closeAudio(audio);
    call = null;
    stopButton.disabled = true;
    setKeypad(false);
    startButton.disabled = false;
    if (!connected && event.code !== 1000) {
      setStatus("The call could not start: your role may not allow test calls, or the agent is gone.");
      return;
    }
    setStatus("Call ended. It is stored with your calls: ");
    const link = document.createElement("a");
    link.href = root.dataset.callsUrl;
    link.textContent = "see it in Calls";
    statusLine.append(link, ".");
  });
}

function stopCall() {
  if (call && call.socket.readyState === WebSocket.OPEN) {
    call.socket.send(JSON.stringify({ event: "stop" }));
    setStatus("Hanging up…");
  }
  stopButton.disabled = true;
}

startButton.addEventListener("click", startCall);
stopButton.addEventListener("click", stopCall);
keypad.addEventListener("click", (event) => {
  const key = event.target.closest("[data-digit]");
  if (key) pressKey(key.dataset.digit);
});
// Typing digits during a call presses them too (not while typing into a field).
document.addEventListener("keydown", (event) => {
  if (!call || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  if (KEYS.includes(event.key) && event.key.length === 1) pressKey(event.key);
});

// AudioWorklet processors of the browser test call (portal/talk.js), in the audio thread.
//
// mulaw-capture: microphone → 8 kHz G.711 µ-law, posted in 20 ms frames of 160 bytes (what a
//   phone line carries; the call engine hears the browser exactly as it hears Twilio).
// mulaw-playback: the agent's µ-law audio → the speakers, with Twilio's mark semantics (a mark
//   is reported once the audio queued before it has played) and `clear` (barge-in: drop all).

const LINE_RATE = 8000;
const FRAME_BYTES = 160;
const BIAS = 0x84;
const CLIP = 32635;

function encodeMulaw(sample) {
  let s = Math.round(Math.max(-1, Math.min(1, sample)) * 32767);
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > CLIP) s = CLIP;
  s += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; exponent -= 1, mask >>= 1) { /* find the segment */ }
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const DECODE = new Float32Array(256);
for (let code = 0; code < 256; code += 1) {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + BIAS) << exponent) - BIAS;
  DECODE[code] = ((u & 0x80) ? -magnitude : magnitude) / 32768;
}

class MulawCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / LINE_RATE; // input samples per line sample
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
    this.frame = new Uint8Array(FRAME_BYTES);
    this.filled = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    for (let i = 0; i < channel.length; i += 1) {
      // Average the input samples that fall into each line sample (a box filter: enough for
      // speech going down to 8 kHz, and exact when the context already runs at 8 kHz).
      this.sum += channel[i];
      this.count += 1;
      this.phase += 1;
      if (this.phase >= this.step) {
        this.phase -= this.step;
        this.frame[this.filled] = encodeMulaw(this.sum / this.count);
        this.filled += 1;
        this.sum = 0;
        this.count = 0;
        if (this.filled === FRAME_BYTES) {
          this.port.postMessage(this.frame, [this.frame.buffer]);
          this.frame = new Uint8Array(FRAME_BYTES);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

class MulawPlayback extends AudioWorkletProcessor {
  constructor() {
    super();
    this.chunks = []; // Uint8Array µ-law chunks, oldest first
    this.offset = 0; // read position inside chunks[0]
    this.queued = 0; // line samples ever queued
    this.played = 0; // line samples ever played
    this.marks = []; // {name, at}: reported when played >= at
    this.step = LINE_RATE / sampleRate; // line samples per output sample
    this.phase = 0;
    this.current = 0;
    this.port.onmessage = (event) => this.command(event.data);
  }

  command(message) {
    if (message.type === "audio") {
      this.chunks.push(message.bytes);
      this.queued += message.bytes.length;
    } else if (message.type === "mark") {
      this.marks.push({ name: message.name, at: this.queued });
      this.reportMarks();
    } else if (message.type === "clear") {
      this.chunks = [];
      this.offset = 0;
      this.played = this.queued;
      this.marks = []; // cleared marks never play
    }
  }

  nextSample() {
    while (this.chunks.length && this.offset >= this.chunks[0].length) {
      this.chunks.shift();
      this.offset = 0;
    }
    if (!this.chunks.length) return null;
    const value = DECODE[this.chunks[0][this.offset]];
    this.offset += 1;
    this.played += 1;
    return value;
  }

  reportMarks() {
    while (this.marks.length && this.played >= this.marks[0].at) {
      this.port.postMessage({ type: "mark", name: this.marks.shift().name });
    }
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    for (let i = 0; i < out.length; i += 1) {
      this.phase += this.step;
      while (this.phase >= 1) {
        this.phase -= 1;
        const sample = this.nextSample();
        this.current = sample === null ? 0 : sample;
      }
      out[i] = this.current;
    }
    this.reportMarks();
    return true;
  }
}

registerProcessor("mulaw-capture", MulawCapture);
registerProcessor("mulaw-playback", MulawPlayback);

/* The audio side of "Talk to this agent" (static/agents/talk.js), on the audio thread.

   Microphone -> agent: the input (the AudioContext's rate, 48 kHz typically) is averaged down
   to 8 kHz, encoded as G.711 mu-law and posted to the page in 20 ms frames of 160 bytes, the
   frames a phone carrier sends (docs/protocols.md, "Twilio: media streams").

   Agent -> speaker: the page posts the agent's mu-law 8 kHz audio ({type: "play"}); it is
   decoded, queued and played, interpolated up to the context's rate. A {type: "mark"} is
   answered with the same mark once everything queued before it has played (the bridge
   measures from these how much of an answer was heard); {type: "clear"} (the caller
   interrupted) drops the queue and the marks still pending, at once. */
"use strict";

const FRAME_BYTES = 160; // 20 ms at 8 kHz
const RATE = 8000;

// G.711 mu-law, as carriers encode it (bias 0x84, clip 32635, bits inverted).
function linearToMulaw(value) {
  let sample = Math.max(-32768, Math.min(32767, Math.round(value * 32767)));
  const sign = sample < 0 ? 0x80 : 0;
  if (sign) sample = -sample;
  if (sample > 32635) sample = 32635;
  sample += 0x84;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

const MULAW_DECODE = new Float32Array(256);
for (let code = 0; code < 256; code++) {
  const u = ~code & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = (((u & 0x0f) << 3) + 0x84) << exponent;
  MULAW_DECODE[code] = ((u & 0x80 ? 0x84 - magnitude : magnitude - 0x84) / 32768);
}

class TalkProcessor extends AudioWorkletProcessor {
  constructor() {
    super();
    // Capture: a box filter over each 1/8000 s of input (enough against aliasing for speech).
    this.inputStep = sampleRate / RATE;
    this.boundary = this.inputStep;
    this.inputCount = 0;
    this.sum = 0;
    this.summed = 0;
    this.frame = new Uint8Array(FRAME_BYTES);
    this.frameLength = 0;
    // Playback: chunks of decoded 8 kHz samples, read with linear interpolation.
    this.chunks = [];
    this.chunkOffset = 0;
    this.queued = 0; // samples enqueued since the start (8 kHz)
    this.played = 0; // of which played
    this.marks = []; // {name, at}: echoed once ``played`` reaches ``at``
    this.outputStep = RATE / sampleRate;
    this.phase = 0;
    this.previous = 0;
    this.current = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    if (message.type === "play") {
      const bytes = message.bytes;
      const samples = new Float32Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) samples[i] = MULAW_DECODE[bytes[i]];
      this.chunks.push(samples);
      this.queued += samples.length;
    } else if (message.type === "mark") {
      this.marks.push({ name: message.name, at: this.queued });
      this.echoMarks();
    } else if (message.type === "clear") {
      this.chunks = [];
      this.chunkOffset = 0;
      this.played = this.queued;
      this.marks = [];
      this.current = 0;
    }
  }

  echoMarks() {
    while (this.marks.length && this.marks[0].at <= this.played) {
      this.port.postMessage({ type: "mark", name: this.marks.shift().name });
    }
  }

  nextSample() {
    while (this.chunks.length) {
      const chunk = this.chunks[0];
      if (this.chunkOffset < chunk.length) {
        this.played++;
        return chunk[this.chunkOffset++];
      }
      this.chunks.shift();
      this.chunkOffset = 0;
    }
    return 0;
  }

  capture(input) {
    for (let i = 0; i < input.length; i++) {
      this.sum += input[i];
      this.summed++;
      this.inputCount++;
      if (this.inputCount >= this.boundary) {
        this.boundary += this.inputStep;
        this.frame[this.frameLength++] = linearToMulaw(this.sum / this.summed);
        this.sum = 0;
        this.summed = 0;
        if (this.frameLength === FRAME_BYTES) {
          const frame = this.frame;
          this.port.postMessage({ type: "frame", bytes: frame }, [frame.buffer]);
          this.frame = new Uint8Array(FRAME_BYTES);
          this.frameLength = 0;
        }
      }
    }
  }

  process(inputs, outputs) {
    const input = inputs[0] && inputs[0][0];
    if (input) this.capture(input);
    const output = outputs[0] && outputs[0][0];
    if (output) {
      for (let i = 0; i < output.length; i++) {
        output[i] = this.previous + (this.current - this.previous) * this.phase;
        this.phase += this.outputStep;
        while (this.phase >= 1) {
          this.phase -= 1;
          this.previous = this.current;
          this.current = this.nextSample();
        }
      }
      for (let channel = 1; channel < outputs[0].length; channel++) outputs[0][channel].set(output);
      if (this.marks.length) this.echoMarks();
    }
    return true;
  }
}

registerProcessor("talk-processor", TalkProcessor);

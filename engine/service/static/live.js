// Live mode: camera frames go to the service over a WebSocket; interpretations come back.
//
// Each binary message is a 4-byte big-endian frame number and an image. At most two frames
// are unanswered: the service translates two of a session's frames at once (one decoding
// and segmenting while the other is in the network), and the next frame is taken from the
// camera as soon as one is answered, the freshest it can start on. The service keeps only
// the newest waiting frame of any client, so latency never builds up. While the service
// loads a model (it says "loading", then "ready") no frame is sent: none is lost to the wait.

import { liveProtocols, liveUrl } from "./api.js";

const FRAME_SIDE = 256; // long side of the frames sent: the models' size
const MAX_UNANSWERED = 2;
const WINDOW_MS = 2000; // frames per second and latency are measured over this window
const CLOSE_REASONS = {
  1006: "The connection to the engine was lost.",
  1009: "A camera frame was larger than the engine accepts.",
};

export class LiveSession {
  constructor({ video, canvas, onStats, onError }) {
    this.video = video;
    this.canvas = canvas;
    this.onStats = onStats;
    this.onError = onError;
    this.capture = document.createElement("canvas");
    this.stream = null;
    this.ws = null;
    this.reset();
  }

  reset() {
    this.sent = 0; // number of the last frame sent
    this.answered = 0; // number of the newest frame answered (or refused)
    this.sentAt = new Map();
    this.answers = []; // [time, latency] of recent answers
    this.encoding = false;
    this.fresh = false; // the camera has a frame not sent yet
    this.loading = null; // the model the service is loading, if any: frames wait for it
  }

  get running() {
    return this.stream !== null;
  }

  async start(params) {
    if (!navigator.mediaDevices?.getUserMedia) {
      throw new Error("This browser offers no camera here: open the page on http://127.0.0.1 or over https.");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.connect(params);
    this.watchFrames();
  }

  stop() {
    this.disconnect();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
    this.reset();
    this.onStats(this.stats()); // no frames: the badges say so instead of their last figures
  }

  // New options: a new session (its colours start afresh), same camera.
  connect(params) {
    this.disconnect();
    this.reset();
    const ws = new WebSocket(liveUrl(params), liveProtocols());
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => this.received(event.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return; // closed on purpose
      this.ws = null;
      if (!this.closedWithError) {
        this.onError(event.reason || CLOSE_REASONS[event.code] || `The live session ended (${event.code}).`);
      }
    };
    this.closedWithError = false;
    this.ws = ws;
  }

  disconnect() {
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  }

  watchFrames() {
    const next = () => {
      if (!this.running) return;
      this.fresh = true;
      this.send();
      if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(next);
      else requestAnimationFrame(next);
    };
    next();
  }

  send() {
    const ws = this.ws;
    const ready = ws && ws.readyState === WebSocket.OPEN && this.video.videoWidth > 0;
    const room = this.sent - this.answered < MAX_UNANSWERED;
    if (!ready || !room || !this.fresh || this.encoding || this.loading) return;
    this.fresh = false;
    const scale = FRAME_SIDE / Math.max(this.video.videoWidth, this.video.videoHeight);
    this.capture.width = Math.round(this.video.videoWidth * scale);
    this.capture.height = Math.round(this.video.videoHeight * scale);
    this.capture.getContext("2d").drawImage(this.video, 0, 0, this.capture.width, this.capture.height);
    this.encoding = true;
    this.capture.toBlob(async (blob) => {
      this.encoding = false;
      if (!blob || ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
      const number = this.sent + 1;
      const header = new DataView(new ArrayBuffer(4));
      header.setUint32(0, number);
      ws.send(new Blob([header, blob]));
      this.sent = number;
      this.sentAt.set(number, performance.now());
    }, "image/jpeg", 0.8);
  }

  received(data) {
    if (typeof data === "string") return this.told(JSON.parse(data));
    const number = new DataView(data).getUint32(0);
    this.answer(number);
    const image = new Blob([data.slice(4)], { type: "image/jpeg" });
    createImageBitmap(image).then((bitmap) => {
      this.canvas.width = bitmap.width;
      this.canvas.height = bitmap.height;
      this.canvas.getContext("2d").drawImage(bitmap, 0, 0);
      bitmap.close();
    });
  }

  told(message) {
    if (message.event !== undefined) return this.event(message);
    if (message.frame !== undefined) {
      this.answer(message.frame, false);
      this.onError(message.error);
      return;
    }
    this.closedWithError = true; // the close that follows says no more than this
    this.onError(message.error);
  }

  event({ event, model }) {
    if (event === "loading") this.loading = model;
    else if (event === "ready") this.loading = null;
    else return; // an event this page does not know
    this.onStats(this.stats());
    this.send();
  }

  answer(number, interpreted = true) {
    const now = performance.now();
    const sentAt = this.sentAt.get(number);
    for (const key of this.sentAt.keys()) if (key <= number) this.sentAt.delete(key);
    this.answered = Math.max(this.answered, number);
    if (interpreted && sentAt !== undefined) this.answers.push([now, now - sentAt]);
    this.onStats(this.stats());
    this.send(); // the camera's newest frame, without waiting for the next one
  }

  // Frames per second and median latency over the last WINDOW_MS.
  stats() {
    const now = performance.now();
    while (this.answers.length && this.answers[0][0] < now - WINDOW_MS) this.answers.shift();
    const span = this.answers.length > 1 ? now - this.answers[0][0] : WINDOW_MS;
    const latencies = this.answers.map(([, latency]) => latency).sort((a, b) => a - b);
    return {
      fps: this.answers.length > 1 ? ((this.answers.length - 1) * 1000) / span : 0,
      latency: latencies.length ? latencies[Math.floor(latencies.length / 2)] : null,
      loading: this.loading,
    };
  }
}

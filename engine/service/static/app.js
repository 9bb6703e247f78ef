// The page: choose a model, drop a photo or a clip, or start the camera.

import { ApiError, call, onTokenNeeded } from "./api.js";
import { LiveSession } from "./live.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 400;

const state = { models: [], model: null, objectUrls: [], job: 0 };

// ---- errors and the token ----------------------------------------------------------------
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
}

function describe(error) {
  if (error instanceof ApiError) return error.message;
  if (error?.name === "NotAllowedError") return "The camera was not allowed. Allow it in the browser and try again.";
  if (error?.name === "NotFoundError") return "No camera was found.";
  return error?.message || String(error);
}

onTokenNeeded((wasWrong) => new Promise((resolve) => {
  const dialog = $("token-dialog");
  if (wasWrong) $("token-why").textContent = "That token was refused. Enter the ENGINE_TOKEN the engine was started with.";
  $("token").value = "";
  dialog.addEventListener("close", () => resolve($("token").value.trim()), { once: true });
  dialog.showModal();
}));

// ---- options -----------------------------------------------------------------------------
function clusterCount(model) {
  const match = /^clusters k=(\d+)$/.exec(model.segmenter);
  return match ? Number(match[1]) : null;
}

function options() {
  const params = { panels: document.querySelector("input[name=panels]:checked").value };
  if (state.model) params.model = `${state.model.name}@${state.model.version}`;
  if (state.model && clusterCount(state.model) !== null) params.k = $("k").value;
  return params;
}

function selectModel(model) {
  state.model = model;
  for (const choice of document.querySelectorAll("[role=radio][data-name]")) {
    choice.setAttribute("aria-checked", String(choice.dataset.name === model.name));
  }
  $("model-about").textContent = model.description;
  const k = clusterCount(model);
  $("k-row").hidden = k === null;
  $("k-none").hidden = k !== null;
  if (k !== null) {
    $("k").value = k;
    $("k-value").textContent = k;
  }
  optionsChanged();
}

async function sampleSheet(model) {
  if (!model.has_sample_sheet) return null;
  try {
    const path = `/v1/models/${encodeURIComponent(model.name)}/${model.version}/sample.png`;
    return URL.createObjectURL(await (await call(path)).blob());
  } catch {
    return null; // a missing sheet leaves the card without a picture
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// A choice of model: a compact row beside the stage, or a sample sheet card in the gallery.
function modelChoice(model, sheetUrl, compact) {
  const choice = element("button", compact ? "model" : "sheet");
  choice.type = "button";
  choice.dataset.name = model.name;
  choice.setAttribute("role", "radio");
  choice.setAttribute("aria-checked", "false");
  if (sheetUrl) {
    const sheet = element("img");
    sheet.src = sheetUrl;
    sheet.alt = compact ? "" : `${model.label} on held-out photos: segmentation, output, photograph`;
    choice.append(sheet);
  } else if (compact) {
    choice.append(element("span", "swatch"));
  }
  const text = element("span", "model-text");
  text.append(element("strong", "", model.label), element("span", "tag", model.segmenter));
  if (!compact) text.append(element("span", "about", model.description));
  choice.append(text);
  choice.addEventListener("click", () => selectModel(model));
  return choice;
}

async function loadModels() {
  const list = $("models");
  try {
    const response = await call("/v1/models");
    state.models = (await response.json()).models.filter((model) => model.served);
  } catch (error) {
    list.textContent = "";
    showError(describe(error));
    return;
  }
  list.textContent = "";
  if (!state.models.length) {
    list.textContent = "No model is installed: train one with `beautynet train`.";
    return;
  }
  const sheets = await Promise.all(state.models.map(sampleSheet));
  state.models.forEach((model, i) => {
    list.append(modelChoice(model, sheets[i], true));
    if (sheets[i]) $("sheets").append(modelChoice(model, sheets[i], false));
  });
  $("sheets").closest("section").hidden = !sheets.some(Boolean);
  selectModel(state.models.find((model) => model.default) || state.models[0]);
}

function optionsChanged() {
  if (live.running) live.connect(options());
}

// ---- photos and clips --------------------------------------------------------------------
function keepUrl(blob) {
  const url = URL.createObjectURL(blob);
  state.objectUrls.push(url);
  return url;
}

function forgetUrls() {
  for (const url of state.objectUrls) URL.revokeObjectURL(url);
  state.objectUrls = [];
}

function working(text, progress = null) {
  $("working").hidden = text === null;
  $("working-text").textContent = text ?? "";
  $("progress").hidden = progress === null;
  if (progress !== null) $("progress").value = progress;
}

function showResult(kind, blob, name, caption) {
  const url = keepUrl(blob);
  const media = kind === "clip" ? $("result-video") : $("result-image");
  media.src = url;
  media.hidden = false;
  $("download").href = url;
  $("download").download = name;
  $("download").hidden = false;
  $("result-caption").textContent = caption;
  working(null);
}

function startResult(file) {
  forgetUrls();
  clearError();
  $("drop").hidden = true;
  $("result").hidden = false;
  $("download").hidden = true;
  for (const media of [$("result-image"), $("result-video")]) {
    media.hidden = true;
    media.removeAttribute("src");
  }
  if (file.type.startsWith("image/")) {
    $("result-image").src = keepUrl(file); // the original while the network works
    $("result-image").hidden = false;
  }
  $("result-caption").textContent = file.name;
  return ++state.job;
}

function resultName(file, suffix) {
  return `${file.name.replace(/\.[^.]*$/, "") || "beautynet"}.beautynet.${suffix}`;
}

// "original | interpretation · nature v8 · 1024×682": the panels, the model, and the size
// of each panel where the service says it (a still image's X-Panel-Size).
function panelsCaption(params, panelSize = null) {
  const panels = params.panels === "3" ? "original | segmentation | interpretation" : "original | interpretation";
  const size = panelSize ? ` · ${panelSize.replace("x", "×")}` : "";
  return `${panels} · ${state.model ? state.model.label : ""}${size}`;
}

function form(field, file, params) {
  const body = new FormData();
  for (const [key, value] of Object.entries(params)) body.append(key, value);
  body.append(field, file, file.name);
  return body;
}

// One door for any file: the service tells a still image (answered at once) from a clip, a
// video or an animated GIF, WebP or PNG (202: a job to follow), by its content.
async function translateFile(file) {
  if (!file) return;
  const job = startResult(file);
  const params = options();
  try {
    working("Uploading…");
    const response = await call("/v1/translate", { method: "POST", body: form("image", file, params) });
    if (response.status === 202) {
      await followClip(file, job, params, (await response.json()).id);
    } else {
      const blob = await response.blob();
      const caption = panelsCaption(params, response.headers.get("X-Panel-Size"));
      if (job === state.job) showResult("image", blob, resultName(file, "png"), caption);
    }
  } catch (error) {
    if (job !== state.job) return;
    working(null);
    showError(describe(error));
    showDrop();
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function followClip(file, job, params, id) {
  let status;
  for (;;) {
    if (job !== state.job) return;
    status = await (await call(`/v1/clips/${encodeURIComponent(id)}`)).json();
    if (status.state === "failed") throw new ApiError(400, status.error || "the clip could not be translated");
    const done = status.total ? status.done / status.total : 0;
    working(status.total ? `Frame ${status.done} of ${status.total}` : "Starting…", done);
    if (status.state === "done") break; // its last progress shown, however quick the clip
    await sleep(POLL_MS);
  }
  working("Fetching the result…", 1);
  const result = await call(`/v1/clips/${encodeURIComponent(id)}/result`);
  const blob = await result.blob();
  if (job !== state.job) return;
  const gif = status.format === "gif"; // an animation answered with an animation
  showResult(gif ? "image" : "clip", blob, resultName(file, gif ? "gif" : "mp4"), panelsCaption(params));
  if (!gif) $("result-video").play().catch(() => {}); // muted, so autoplay is allowed
}

function showDrop() {
  $("result").hidden = true;
  $("drop").hidden = false;
  $("file").value = "";
}

function wireUpload() {
  const drop = $("drop");
  const target = $("upload"); // a file dropped on a result replaces it
  $("file").addEventListener("change", () => translateFile($("file").files[0]));
  target.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  target.addEventListener("dragleave", () => drop.classList.remove("over"));
  target.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    translateFile(event.dataTransfer.files[0]);
  });
  $("again").addEventListener("click", () => {
    state.job++;
    forgetUrls();
    showDrop();
  });
}

// ---- live --------------------------------------------------------------------------------
const live = new LiveSession({
  video: $("camera"),
  canvas: $("interpretation"),
  onStats: ({ fps, latency, loading }) => {
    $("fps").textContent = loading ? `Loading ${loading}…` : `${fps.toFixed(1)} frames/s`;
    $("latency").textContent = loading || latency === null ? "" : `${Math.round(latency)} ms`;
  },
  onError: showError,
});

async function toggleLive() {
  const button = $("live-toggle");
  if (live.running) {
    live.stop();
    button.textContent = "Start the camera";
    return;
  }
  clearError();
  button.disabled = true;
  try {
    await live.start(options());
    button.textContent = "Stop";
  } catch (error) {
    live.stop();
    showError(describe(error));
  } finally {
    button.disabled = false;
  }
}

setInterval(() => {
  if (live.running) live.onStats(live.stats());
}, 500);

// ---- modes -------------------------------------------------------------------------------
function showMode(mode) {
  for (const name of ["upload", "live"]) {
    $(name).hidden = name !== mode;
    $(`tab-${name}`).setAttribute("aria-selected", String(name === mode));
  }
  if (mode !== "live" && live.running) toggleLive();
  clearError();
}

function wire() {
  wireUpload();
  $("tab-upload").addEventListener("click", () => showMode("upload"));
  $("tab-live").addEventListener("click", () => showMode("live"));
  $("live-toggle").addEventListener("click", toggleLive);
  $("k").addEventListener("input", () => ($("k-value").textContent = $("k").value));
  $("k").addEventListener("change", optionsChanged);
  for (const radio of document.querySelectorAll("input[name=panels]")) {
    radio.addEventListener("change", optionsChanged);
  }
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && live.running) toggleLive(); // a hidden tab gives its place back
  });
}

wire();
loadModels();

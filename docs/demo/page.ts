/// <reference lib="dom" />
/**
 * The demo page: starts the training Worker, draws its loss curve and test accuracy with viz.lineChart,
 * and classifies the digit drawn on the canvas (cropped, scaled and centred as MNIST's digits are).
 * `window.tracegradDemo` exposes the state and a request function to the browser test.
 */
import { viz } from "tracegrad";
import { pageOptions, type Reply, type Request } from "./protocol.js";

type ReadyReply = Extract<Reply, { type: "ready" }>;
type EpochReply = Extract<Reply, { type: "epoch" }>;

interface DemoState {
  ready: ReadyReply | null;
  losses: { epoch: number; step: number; loss: number }[];
  epochs: EpochReply[];
  done: boolean;
  prediction: number | null;
  error: string | null;
}

const options = pageOptions(location.search);
const state: DemoState = { ready: null, losses: [], epochs: [], done: false, prediction: null, error: null };
const worker = new Worker(`worker.js${location.search}`, { name: "tracegrad training" });
const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// Requests with an id resolve with the reply of that id.
let nextId = 1;
const waiting = new Map<number, (reply: Reply) => void>();
type Requested = Extract<Request, { id: number }>;
type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
function request(message: WithoutId<Requested>): Promise<Reply> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    worker.postMessage({ ...message, id } as Requested);
  });
}

worker.onmessage = (event: MessageEvent<Reply>) => {
  const reply = event.data;
  if ("id" in reply) {
    waiting.get(reply.id)?.(reply);
    waiting.delete(reply.id);
  }
  switch (reply.type) {
    case "ready":
      state.ready = reply;
      showStatus();
      if (options.train) worker.postMessage({ type: "train", epochs: options.epochs } satisfies Request);
      break;
    case "loss":
      state.losses.push(reply);
      scheduleChart();
      break;
    case "epoch":
      state.epochs.push(reply);
      rememberSpeed(reply.imagesPerSecond);
      element("epochs").textContent = state.epochs
        .map(
          (e) =>
            `epoch ${e.epoch}: test accuracy ${(100 * e.accuracy).toFixed(2)}%, ${e.imagesPerSecond.toFixed(0)} images/s`,
        )
        .join(" · ");
      scheduleChart();
      predictDrawing();
      break;
    case "done":
      state.done = true;
      showStatus();
      break;
    case "error":
      state.error = reply.message;
      element("status").textContent = `Error: ${reply.message}`;
      break;
    default:
      break;
  }
};
worker.onerror = (event) => {
  state.error = event.message;
  element("status").textContent = `Error: ${event.message}`;
};

// The backend switch reloads the page with ?backend=...; each backend's last speed is kept, to compare.
const backendSelect = element<HTMLSelectElement>("backend");
backendSelect.value = options.backend;
backendSelect.onchange = () => {
  const query = new URLSearchParams(location.search);
  query.set("backend", backendSelect.value);
  location.search = query.toString();
};
const SPEEDS_KEY = "tracegrad-demo-images-per-second";
function rememberSpeed(imagesPerSecond: number): void {
  const speeds = JSON.parse(localStorage.getItem(SPEEDS_KEY) ?? "{}") as Record<string, number>;
  speeds[options.backend] = imagesPerSecond;
  localStorage.setItem(SPEEDS_KEY, JSON.stringify(speeds));
  showSpeeds();
}
function showSpeeds(): void {
  const speeds = JSON.parse(localStorage.getItem(SPEEDS_KEY) ?? "{}") as Record<string, number>;
  element("speeds").textContent = Object.entries(speeds)
    .map(([name, value]) => `${name === "webgpu" ? "WebGPU" : "wasm"}: ${value.toFixed(0)} images/s`)
    .join(" · ");
}
showSpeeds();

function showStatus(): void {
  const ready = state.ready;
  if (!ready) return;
  const { name, threads, webgpu } = ready.backend;
  const kernels = webgpu
    ? `the training step on WebGPU (${webgpu})`
    : `${name} kernels on ${threads} thread${threads === 1 ? "" : "s"}${crossOriginIsolated ? "" : " (the page is not cross-origin isolated)"}`;
  const data = `${ready.trainImages} training and ${ready.testImages} test digits`;
  const phase = state.done ? "trained" : options.train ? `training ${options.epochs} epochs` : "not training";
  element("status").textContent = `LeNet, ${data}, ${kernels}: ${phase}.`;
}

let chartQueued = false;
function scheduleChart(): void {
  if (chartQueued) return;
  chartQueued = true;
  requestAnimationFrame(() => {
    chartQueued = false;
    drawChart();
  });
}

function drawChart(): void {
  const perEpoch = state.epochs[0]?.stepsPerEpoch ?? Math.max(1, ...state.losses.map((l) => l.step));
  const series: viz.Series[] = [
    {
      label: "training loss (per step)",
      points: state.losses.map((l) => [l.epoch - 1 + l.step / perEpoch, l.loss] as const),
      color: "#1f77b4",
    },
  ];
  if (state.epochs.length > 0)
    series.push({
      label: "test accuracy (per epoch)",
      points: state.epochs.map((e) => [e.epoch, e.accuracy] as const),
      color: "#d62728",
      axis: "right",
    });
  element("chart").innerHTML = viz.lineChart(series, {
    title: "LeNet on MNIST (tracegrad in a Web Worker)",
    xLabel: "epoch",
    leftLabel: "cross-entropy loss",
    rightLabel: "test accuracy",
    rightRange: [Math.min(0.9, ...state.epochs.map((e) => e.accuracy)), 1],
  });
}

// ---------------------------------------------------------------------------------------------------
// Drawing

const pad = element<HTMLCanvasElement>("pad");
const ink = pad.getContext("2d", { willReadFrequently: true })!;
ink.lineCap = "round";
ink.lineJoin = "round";
ink.lineWidth = 20;
ink.strokeStyle = "#fff";
let drawing = false;

const at = (event: PointerEvent) => {
  const box = pad.getBoundingClientRect();
  return [
    ((event.clientX - box.left) * pad.width) / box.width,
    ((event.clientY - box.top) * pad.height) / box.height,
  ];
};
pad.addEventListener("pointerdown", (event) => {
  drawing = true;
  pad.setPointerCapture(event.pointerId);
  const [x, y] = at(event);
  ink.beginPath();
  ink.moveTo(x!, y!);
  ink.lineTo(x!, y! + 0.01);
  ink.stroke();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  const [x, y] = at(event);
  ink.lineTo(x!, y!);
  ink.stroke();
});
pad.addEventListener("pointerup", () => {
  drawing = false;
  predictDrawing();
});
element("clear").addEventListener("click", () => {
  ink.clearRect(0, 0, pad.width, pad.height);
  state.prediction = null;
  element("digit").textContent = "";
  element("bars").innerHTML = "";
  preview.clearRect(0, 0, 28, 28);
});

const preview = element<HTMLCanvasElement>("preview").getContext("2d", { willReadFrequently: true })!;
const scratch = document.createElement("canvas");
scratch.width = scratch.height = 28;
const scaled = scratch.getContext("2d", { willReadFrequently: true })!;

/**
 * The drawing as MNIST prepares digits: the ink's bounding box scaled to fit 20x20, centred by its
 * centre of mass in 28x28; a byte per pixel. Null for an empty pad.
 */
function drawnDigit(): Uint8Array | null {
  const { width, height } = pad;
  const pixels = ink.getImageData(0, 0, width, height).data;
  let [left, top, right, bottom] = [width, height, -1, -1];
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      if (pixels[4 * (y * width + x) + 3]! > 0) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
  if (right < 0) return null;
  const [w, h] = [right - left + 1, bottom - top + 1];
  const scale = 20 / Math.max(w, h);
  const draw = (dx: number, dy: number) => {
    scaled.fillStyle = "#000";
    scaled.fillRect(0, 0, 28, 28);
    scaled.imageSmoothingQuality = "high";
    scaled.drawImage(pad, left, top, w, h, dx, dy, w * scale, h * scale);
  };
  draw((28 - w * scale) / 2, (28 - h * scale) / 2);
  const grey = () => {
    const rgba = scaled.getImageData(0, 0, 28, 28).data;
    return Uint8Array.from({ length: 784 }, (_, i) => rgba[4 * i]!);
  };
  let values = grey();
  let [mass, cx, cy] = [0, 0, 0];
  values.forEach((v, i) => {
    mass += v;
    cx += v * (i % 28);
    cy += v * Math.floor(i / 28);
  });
  draw((28 - w * scale) / 2 + 13.5 - cx / mass, (28 - h * scale) / 2 + 13.5 - cy / mass);
  values = grey();
  preview.drawImage(scratch, 0, 0);
  return values;
}

async function predictDrawing(): Promise<void> {
  if (!state.ready) return;
  const pixels = drawnDigit();
  if (!pixels) return;
  const reply = await request({ type: "predict", pixels });
  if (reply.type !== "prediction") return;
  const p = reply.probabilities;
  const best = p.indexOf(Math.max(...p));
  state.prediction = best;
  element("digit").textContent = String(best);
  element("bars").innerHTML = p
    .map((v, d) => `<span>${d}</span><div class="bar" style="width:${(160 * v).toFixed(1)}px"></div>`)
    .join("");
}

/** For the browser test. */
(window as unknown as { tracegradDemo: unknown }).tracegradDemo = { state, request, predictDrawing };

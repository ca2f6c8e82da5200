/**
 * tracegrad as a runner process (see protocol.ts): `tracegrad-peer.ts eager|jit [--backend js|wasm]
 * [--expect-relaxed-simd]`. The eager and the jit columns are two such processes, so neither pays for the
 * other's heap or compiled code; run-peers.ts starts a third, the jit in a Node with relaxed SIMD enabled.
 */
import { backend, setBackend } from "../../src/index.js";
import { describeBackend, measureTracegrad, type TracegradVariant } from "../tracegrad-suite.js";
import { serveRequests, workloadIndex } from "./protocol.js";

function parseArgs(argv: readonly string[]): { variant: TracegradVariant; kernels?: "js" | "wasm" } {
  const variant = argv[0];
  if (variant !== "eager" && variant !== "jit")
    throw new Error(`tracegrad-peer: expected eager or jit as the first argument, got ${variant}`);
  const backendIndex = argv.indexOf("--backend");
  if (backendIndex < 0) return { variant };
  const kernels = argv[backendIndex + 1];
  if (kernels !== "js" && kernels !== "wasm")
    throw new Error(`tracegrad-peer: --backend expects js or wasm, got ${kernels}`);
  return { variant, kernels };
}

const { variant, kernels } = parseArgs(process.argv.slice(2));

await serveRequests(
  async () => {
    if (kernels) setBackend(kernels);
    if (process.argv.includes("--expect-relaxed-simd") && !backend().relaxedSimd) {
      return {
        status: "not installed",
        description: `this Node (${process.version}) offers no relaxed SIMD, even with its flag`,
      };
    }
    return { status: "ok", description: describeBackend() };
  },
  async (request) => {
    const result = measureTracegrad(request.workload, variant, workloadIndex(request), request.budget);
    const m = result.measurement;
    process.stderr.write(
      `tracegrad ${variant.padEnd(5)} ${request.workload.id.padEnd(22)} ${m.ok ? `${m.timing.medianMs.toFixed(2)} ms` : `failed (${m.error})`}\n`,
    );
    return result;
  },
);

/**
 * tracegrad's jit on its ONNX Runtime backend (`jit(f, { backend: "onnxruntime" })`), a runner process
 * (see protocol.ts) on one intra-op thread (or `--threads N`), for the `onnxruntime` column.
 */
import { onnxRuntimeVersion } from "../../src/compiler/onnx-runtime.js";
import { runOnnxRuntimeSuite } from "../tracegrad-suite.js";
import { isMissingModule, serveRequests } from "./protocol.js";

const threadsIndex = process.argv.indexOf("--threads");
const threads = threadsIndex >= 0 ? Number(process.argv[threadsIndex + 1]) : 1;

await serveRequests(
  async () => {
    let version: string | null;
    try {
      version = await onnxRuntimeVersion();
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause;
      if (isMissingModule(cause) || /could not be loaded/.test(String(e))) {
        return { status: "not installed", description: "onnxruntime-node is not installed" };
      }
      throw e;
    }
    return {
      status: "ok",
      description: `tracegrad jit on onnxruntime-node ${version}, intraOpNumThreads ${threads}`,
    };
  },
  async (request) => {
    const results = await runOnnxRuntimeSuite({
      mode: request.mode,
      budget: request.budget,
      workloadIds: [request.workload.id],
      threads,
      log: (line) => process.stderr.write(`${line}\n`),
    });
    return {
      measurement: results[request.workload.id] ?? { ok: false, error: "not in this mode's workloads" },
    };
  },
);

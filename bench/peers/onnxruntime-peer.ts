/**
 * tracegrad's jit on its ONNX Runtime backend (`jit(f, { backend: "onnxruntime" })`) in a process of its
 * own, on one intra-op thread (or the request's threads), for the `onnxruntime` column.
 */
import { onnxRuntimeVersion } from "../../src/compiler/onnx-runtime.js";
import { runOnnxRuntimeSuite } from "../tracegrad-suite.js";
import { isMissingModule, type PeerRequest, readRequest, writeReply } from "./protocol.js";

async function main(): Promise<void> {
  const request: PeerRequest = await readRequest();
  let version: string | null;
  try {
    version = await onnxRuntimeVersion();
  } catch (e) {
    const cause = (e as { cause?: unknown }).cause;
    if (isMissingModule(cause) || /could not be loaded/.test(String(e))) {
      writeReply({ status: "not installed", description: "onnxruntime-node is not installed" });
      return;
    }
    throw e;
  }
  const threads = request.threads ?? 1;
  const results = await runOnnxRuntimeSuite({
    mode: request.mode,
    budget: request.budget,
    workloadIds: request.workloads.map((w) => w.id),
    threads,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  writeReply({
    status: "ok",
    description: `tracegrad jit on onnxruntime-node ${version}, intraOpNumThreads ${threads}`,
    results,
  });
}

await main();

/**
 * tracegrad's jit in a process of its own (request on stdin, see protocol.ts), for the columns that need
 * another Node configuration than the main run's: run-peers.ts starts it with relaxed SIMD enabled.
 */
import { backend } from "../../src/index.js";
import type { Measurement } from "../timing.js";
import { runTracegradSuite } from "../tracegrad-suite.js";
import { type PeerRequest, readRequest, writeReply } from "./protocol.js";

async function main(): Promise<void> {
  const request: PeerRequest = await readRequest();
  if (process.argv.includes("--expect-relaxed-simd") && !backend().relaxedSimd) {
    writeReply({
      status: "not installed",
      description: `this Node (${process.version}) offers no relaxed SIMD, even with its flag`,
    });
    return;
  }
  const suite = runTracegradSuite({
    mode: request.mode,
    budget: request.budget,
    only: request.workloads.map((w) => w.id),
    jitOnly: true,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const results: Record<string, Measurement> = {};
  for (const row of suite.rows) results[row.workload.id] = row.jit;
  writeReply({ status: "ok", description: `tracegrad jit, ${suite.backend}`, results });
}

await main();

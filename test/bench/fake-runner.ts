/**
 * A stand-in runner for the paired-benchmark tests: it speaks protocol.ts's line protocol through the
 * same serveRequests the real runners use, appends `NAME WORKLOAD PID` to a record file for every
 * request it receives (so the tests see the order the runners were asked in), and replies with a fixed
 * time, or misbehaves on purpose:
 *
 *   fake-runner.ts NAME RECORD [--ms N] [--crash-on ID] [--hang-on ID] [--throw-on ID] [--crash-at-start]
 *                  [--not-installed]
 */
import { appendFileSync } from "node:fs";
import { serveRequests } from "../../bench/peers/protocol.js";

const [name, record] = process.argv.slice(2) as [string, string];
const option = (flag: string): string | undefined => {
  const i = process.argv.indexOf(flag);
  return i < 0 ? undefined : process.argv[i + 1];
};
const ms = Number(option("--ms") ?? "1");

await serveRequests(
  async () => {
    if (process.argv.includes("--crash-at-start")) throw new Error(`${name} cannot load its library`);
    if (process.argv.includes("--not-installed"))
      return { status: "not installed", description: "fake: absent" };
    return { status: "ok", description: `fake runner ${name}` };
  },
  async (request) => {
    const id = request.workload.id;
    appendFileSync(record, `${name} ${id} ${process.pid}\n`);
    if (option("--crash-on") === id) {
      process.stderr.write(`${name}: crashing on ${id} on purpose\n`);
      process.exit(3);
    }
    // A timer keeps the process alive while it hangs, as a stuck computation would.
    if (option("--hang-on") === id) await new Promise(() => setInterval(() => {}, 1000));
    if (option("--throw-on") === id) throw new Error(`${name} cannot run ${id}`);
    return { measurement: { ok: true, timing: { medianMs: ms, minMs: ms, iterations: 1 } } };
  },
);

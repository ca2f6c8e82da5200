/**
 * test/differential/generate.py writes the committed cases again, every input and answer: the script and
 * the data cannot drift apart. Needs NumPy of the version that made the data (Debian's python3-numpy
 * 1.24 for /usr/bin/python3); skipped with the reason printed otherwise.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";

const DATA = fileURLToPath(new URL("./data/", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./generate.py", import.meta.url));
const FILE = "numpy-cases.json.gz";

const read = (dir: string) =>
  JSON.parse(gunzipSync(readFileSync(join(dir, FILE))).toString("utf8")) as {
    meta: { numpy_version: string };
    cases: unknown[];
  };

/** The first interpreter that imports numpy (TRACEGRAD_PYTHON, /usr/bin/python3, python3), with its version. */
function findNumpy(): { python: string; version: string } | null {
  const candidates = [process.env["TRACEGRAD_PYTHON"], "/usr/bin/python3", "python3"].filter(
    (c): c is string => !!c,
  );
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import numpy; print(numpy.__version__)"], {
      encoding: "utf8",
      timeout: 60_000,
    });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
  }
  return null;
}

const numpy = findNumpy();
const dataVersion = read(DATA).meta.numpy_version;
const skipReason =
  numpy === null
    ? "no python3 here can `import numpy` (apt-get install python3-numpy)"
    : numpy.version !== dataVersion
      ? `numpy ${numpy.version} here, the data is from numpy ${dataVersion}`
      : null;
if (skipReason !== null) console.log(`differential generate.py test skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)("test/differential/generate.py", () => {
  const out = mkdtempSync(join(tmpdir(), "tracegrad-differential-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes the committed cases again, every number bit for bit", () => {
    const run = spawnSync(numpy!.python, [SCRIPT, out], { encoding: "utf8", timeout: 600_000 });
    expect(run.stderr).not.toContain("Traceback");
    expect(run.status).toBe(0);
    const fresh = read(out);
    const committed = read(DATA);
    expect(fresh.cases.length).toBe(committed.cases.length);
    fresh.cases.forEach((c, i) => expect(c, `case ${i}`).toEqual(committed.cases[i]));
  });
});

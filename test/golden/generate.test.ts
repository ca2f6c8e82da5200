/**
 * test/golden/generate.py reproduces the committed reference data: every case, input and number, bit for
 * bit (the script and the data cannot drift apart). Needs PyTorch of the version that made the data;
 * skipped with the reason printed otherwise.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { findTorchPython } from "../helpers/torch-python.js";

const DATA = fileURLToPath(new URL("./data/", import.meta.url));
const SCRIPT = fileURLToPath(new URL("./generate.py", import.meta.url));

const read = (dir: string, file: string) =>
  JSON.parse(gunzipSync(readFileSync(join(dir, file))).toString("utf8")) as {
    meta?: Record<string, unknown>;
  };

/** The data without the fields that name the interpreter's versions. */
function withoutVersions(data: { meta?: Record<string, unknown> }): unknown {
  const meta = { ...data.meta };
  for (const key of ["torch_version", "debian_python3_torch", "python_version"]) delete meta[key];
  return { ...data, meta };
}

/**
 * The data was made on Debian's reference BLAS (libblas3, which python3-torch installs). Once OpenBLAS is
 * installed too, update-alternatives makes it the system's libblas.so.3 and some numbers change in their
 * last bits, so the script runs with the reference library first on the library path.
 */
const multiarch = `/usr/lib/${process.arch === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`;
const referenceBlas = `${multiarch}/blas`;
const hasReferenceBlas = existsSync(`${referenceBlas}/libblas.so.3`);

const python = findTorchPython();
const torchVersion =
  python === null
    ? null
    : spawnSync(python, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" }).stdout.trim();
const dataVersion = read(DATA, "lenet.json.gz").meta?.["torch_version"];
const skipReason =
  python === null
    ? "no python3 here can `import torch` (apt-get install python3-torch)"
    : torchVersion !== dataVersion
      ? `torch ${torchVersion} here, the data is from torch ${String(dataVersion)}`
      : !hasReferenceBlas
        ? `no reference BLAS at ${referenceBlas} (Debian's libblas3), which the data was made with`
        : null;
if (skipReason !== null) console.log(`generate.py test skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)("test/golden/generate.py", () => {
  const out = mkdtempSync(join(tmpdir(), "tracegrad-golden-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes the committed data again, every number bit for bit", () => {
    const env = { ...process.env, LD_LIBRARY_PATH: [referenceBlas, `${multiarch}/lapack`].join(":") };
    const run = spawnSync(python!, [SCRIPT, out], { encoding: "utf8", timeout: 600_000, env });
    expect(run.stderr).not.toContain("Traceback");
    expect(run.status).toBe(0);
    const files = readdirSync(DATA).sort();
    expect(readdirSync(out).sort()).toEqual(files);
    for (const file of files) {
      expect(withoutVersions(read(out, file)), file).toEqual(withoutVersions(read(DATA, file)));
    }
  });
});

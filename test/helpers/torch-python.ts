/** Finding a Python that can import torch, for the tests that compare with PyTorch itself. */
import { spawnSync } from "node:child_process";

/**
 * The first interpreter that can import torch (TRACEGRAD_PYTHON, then /usr/bin/python3, where Debian's
 * python3-torch lives, then python3 on PATH, which may be a pyenv one without it), or null.
 */
export function findTorchPython(): string | null {
  const candidates = [process.env["TRACEGRAD_PYTHON"], "/usr/bin/python3", "python3"].filter(
    (c): c is string => !!c,
  );
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import torch"], { encoding: "utf8", timeout: 120_000 });
    if (probe.status === 0) return python;
  }
  return null;
}

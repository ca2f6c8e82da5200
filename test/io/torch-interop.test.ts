/**
 * Interoperability with PyTorch, shown rather than assumed: our files read by a spec-following Python reader
 * into a PyTorch model, and files written from a PyTorch state_dict read by us. Skipped (with the reason
 * printed) when no Python on this machine can import torch.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { afterAll, describe, expect, it } from "vitest";
import { io, type Array as NdArray, np } from "../../src/index.js";
import { expectClose, seededArray } from "../helpers/numeric.js";
import { findTorchPython } from "../helpers/torch-python.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, "torch_interop.py");

const PYTHON = findTorchPython();
const itWithTorch = PYTHON === null ? it.skip : it;
if (PYTHON === null)
  console.log(
    "torch interop tests skipped: no python3 here can `import torch` (apt-get install python3-torch)",
  );

function runPython(...args: string[]): unknown {
  const run = spawnSync(PYTHON!, [SCRIPT, ...args], {
    encoding: "utf8",
    timeout: 120_000,
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`python ${args.join(" ")} failed (${run.status}):\n${run.stderr}`);
  return JSON.parse(run.stdout);
}

/** JSON values from the Python side: numbers, or repr() strings for nan and ±inf. */
function pythonNumber(v: number | string): number {
  if (typeof v === "number") return v;
  return v === "nan" ? Number.NaN : v === "inf" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

interface PythonTensor {
  dtype: string;
  shape: number[];
  values: (number | string)[];
}

const workDir = mkdtempSync(join(tmpdir(), "tracegrad-torch-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

describe("safetensors interop with PyTorch", () => {
  itWithTorch("our file loads into a PyTorch Linear whose tanh(xWᵀ + b) matches our forward pass", () => {
    const weight = seededArray([3, 4], 1).astype("float32");
    const bias = seededArray([3], 2).astype("float32");
    const x = seededArray([5, 4], 3, -2, 2).astype("float32");
    const ours = np.tanh(np.add(np.matmul(x, np.transpose(weight)), bias));
    const extras = {
      double: np.array([1 / 3, -0, 1e-310, Number.POSITIVE_INFINITY], { dtype: "float64" }),
      counts: np.array(
        [
          [-2147483648, 2147483647],
          [0, -1],
        ],
        { dtype: "int32" },
      ),
      mask: np.array([true, false, true]),
      nan: np.array([Number.NaN], { dtype: "float32" }),
    };
    const path = join(workDir, "ours.safetensors");
    writeFileSync(
      path,
      io.safetensors.encode({ linear: { weight, bias }, x, extras }, { metadata: { format: "pt" } }),
    );

    const result = runPython("forward", path) as {
      metadata: Record<string, string>;
      y: number[];
      y_shape: number[];
      tensors: Record<string, PythonTensor>;
    };
    expect(result.metadata).toEqual({ format: "pt" });
    expect(result.y_shape).toEqual([5, 3]);
    expectClose(ours, result.y, 1e-6, 1e-6);

    // Every dtype arrives with its dtype, shape and exact values.
    const expectTensor = (name: string, want: NdArray, torchDtype: string) => {
      const got = result.tensors[name]!;
      expect(got.dtype, name).toBe(torchDtype);
      expect(got.shape, name).toEqual(want.shape);
      const values = Array.from(want.toTypedArray(), Number);
      got.values
        .map(pythonNumber)
        .forEach((v, i) => expect(Object.is(v, values[i]) || v === values[i], `${name}[${i}]`).toBe(true));
    };
    expectTensor("linear.weight", weight, "torch.float32");
    expectTensor("x", x, "torch.float32");
    expectTensor("extras.double", extras.double, "torch.float64");
    expectTensor("extras.counts", extras.counts, "torch.int32");
    expectTensor("extras.mask", extras.mask, "torch.bool");
    expectTensor("extras.nan", extras.nan, "torch.float32");
  });

  itWithTorch(
    "a file written from a PyTorch state_dict (int64, float16, bfloat16, ...) loads with the same values",
    () => {
      const path = join(workDir, "theirs.safetensors");
      const expected = runPython("write", path) as Record<string, PythonTensor>;
      const loaded = io.safetensors.decodeFile(readFileSync(path));
      if (E.isLeft(loaded)) throw new Error(`${loaded.left.kind}: ${loaded.left.message}`);
      const { tensors, metadata } = loaded.right;
      expect(metadata).toEqual({ format: "pt", writer: "torch_interop.py" });

      const ourDtype: Record<string, string> = {
        "torch.float32": "float32",
        "torch.float64": "float64",
        "torch.float16": "float16",
        "torch.bfloat16": "bfloat16",
        "torch.int64": "int32",
        "torch.int32": "int32",
        "torch.uint8": "uint8",
        "torch.bool": "bool",
      };
      expect(Object.keys(expected)).toContain("1.num_batches_tracked");
      for (const [name, want] of Object.entries(expected)) {
        const got = tensors[name];
        expect(got, name).toBeDefined();
        expect(got!.dtype, name).toBe(ourDtype[want.dtype]);
        expect(got!.shape, name).toEqual(want.shape);
        // Exact: float16/bfloat16 kept as they are (toArray gives their values), int64 values here fit int32.
        expect((got!.ndim === 0 ? [got!.item()] : got!.reshape([-1]).toArray()) as number[], name).toEqual(
          want.values.map(pythonNumber).map((v) => (want.dtype === "torch.bool" ? v !== 0 : v)),
        );
      }
      expect(tensors["1.num_batches_tracked"]!.item()).toBe(1);

      // All 65,536 bit patterns of each half type, against PyTorch's own conversion to float32, bit for bit.
      for (const half of ["all_f16", "all_bf16"]) {
        const oursValues = Float32Array.from(tensors[half]!.toArray() as number[]);
        const theirsValues = tensors[`${half}_as_f32`]!.toTypedArray();
        const ours = new Uint32Array(new Float32Array(oursValues).buffer);
        const theirs = new Uint32Array(new Float32Array(theirsValues).buffer);
        expect(ours.length).toBe(65536);
        let mismatches = 0;
        for (let i = 0; i < ours.length; i++) {
          const bothNaN = Number.isNaN(oursValues[i]) && Number.isNaN(theirsValues[i]);
          if (ours[i] !== theirs[i] && !bothNaN) mismatches++;
        }
        expect(mismatches, half).toBe(0);
      }

      // And as a tree: numeric path segments become JS arrays, as tree.flattenWithPath would write them.
      const asTree = io.safetensors.decodeTree(readFileSync(path));
      if (E.isLeft(asTree)) throw new Error(asTree.left.message);
      const model = asTree.right as { [layer: number]: Record<string, NdArray> };
      expect(Array.isArray(asTree.right)).toBe(false); // top-level keys also include names like "half_weight"
      expect(model[0]!.weight!.shape).toEqual([3, 4]);
    },
  );
});

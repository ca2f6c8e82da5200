import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { afterAll, describe, expect, it } from "vitest";
import { type Array as NdArray, np, random, tree } from "../../src/index.js";
import { NUMBERS_METADATA_KEY } from "../../src/io/checkpoint.js";
import { io } from "../../src/node.js";

const dir = mkdtempSync(join(tmpdir(), "tracegrad-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectRight<A>(result: E.Either<{ kind: string; message: string }, A>): A {
  if (E.isLeft(result)) throw new Error(`${result.left.kind}: ${result.left.message}`);
  return result.right;
}

function expectSameLeaves(got: unknown, want: unknown): void {
  const g = tree.flattenWithPath<unknown>(got);
  const w = tree.flattenWithPath<unknown>(want);
  expect(g.map(([p]) => p).sort()).toEqual(w.map(([p]) => p).sort());
  const byPath = new Map(g);
  for (const [path, leaf] of w) {
    const other = byPath.get(path);
    if (typeof leaf === "number") {
      expect(other, path).toBe(leaf);
      continue;
    }
    const x = leaf as NdArray;
    const y = other as NdArray;
    expect([y.dtype, y.shape], path).toEqual([x.dtype, x.shape]);
    expect(Array.from(y.toTypedArray()), path).toEqual(Array.from(x.toTypedArray()));
  }
}

// A training state as the design has it: params, an Adam-like optimizer state with a JS-number count,
// the RNG key and the step.
const state = {
  params: {
    conv1: { weight: np.array([[[[0.5, -1]]]]), bias: np.array([0.25]) },
    fc: [{ weight: np.array([[1, 2]]), bias: np.array([3]) }],
  },
  optState: { count: 7, mu: { w: np.array([0.1, 0.2], { dtype: "float64" }) }, scale: 1e-3 },
  key: random.key(42),
  step: 1234,
};

describe("checkpoint save/load", () => {
  it("round-trips params, optimizer state, RNG key and step (numbers come back as numbers)", async () => {
    const path = join(dir, "state.safetensors");
    await io.save(path, state, { metadata: { epoch: "3" } });
    const loaded = expectRight(await io.load<typeof state>(path));
    expectSameLeaves(loaded, state);
    expect(loaded.step).toBe(1234);
    expect(loaded.optState.count).toBe(7);
    expect(loaded.key.dtype).toBe("int32");
    expect(Array.isArray(loaded.params.fc)).toBe(true);
    // With a template the structure is exactly the template's.
    const templated = expectRight(await io.load(path, state));
    expect(tree.treeDefToString(tree.structure(templated))).toBe(tree.treeDefToString(tree.structure(state)));
    expectSameLeaves(templated, state);
  });

  it("writes an ordinary safetensors file: numbers as 0-d float64, listed in metadata", async () => {
    const path = join(dir, "plain.safetensors");
    await io.save(path, state);
    const file = expectRight(io.safetensors.decodeFile(readFileSync(path)));
    expect(file.tensors.step!.shape).toEqual([]);
    expect(file.tensors.step!.dtype).toBe("float64");
    expect(JSON.parse(file.metadata[NUMBERS_METADATA_KEY]!)).toEqual([
      "optState.count",
      "optState.scale",
      "step",
    ]);
  });

  it("writes atomically: replaces an existing file and leaves no temporary files", async () => {
    const path = join(dir, "atomic.safetensors");
    writeFileSync(path, "old contents");
    await io.save(path, { w: np.array([1, 2]) });
    expectSameLeaves(expectRight(await io.load(path)), { w: np.array([1, 2]) });
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("a failed save leaves the previous checkpoint untouched", async () => {
    const path = join(dir, "keep.safetensors");
    await io.save(path, { w: np.array([1]) });
    await expect(io.save(path, { w: "not an array" })).rejects.toThrow(TypeError);
    await expect(io.save(join(dir, "no-such-dir", "x.safetensors"), { w: np.array([1]) })).rejects.toThrow(
      /ENOENT/,
    );
    expectSameLeaves(expectRight(await io.load(path)), { w: np.array([1]) });
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("load gives an io-error for a missing file and a DecodeError for a corrupt one, without throwing", async () => {
    const missing = await io.load(join(dir, "missing.safetensors"));
    expect(missing).toMatchObject({ left: { kind: "io-error", code: "ENOENT" } });
    const corrupt = join(dir, "corrupt.safetensors");
    writeFileSync(corrupt, "not a checkpoint at all");
    expect(E.isLeft(await io.load(corrupt))).toBe(true);
  });

  it("a hostile tracegrad.numbers entry is a typed error", async () => {
    const x = np.array([1, 2]);
    for (const value of ["not json", '{"a":1}', "[1]", '["x"]', '["missing"]']) {
      const path = join(dir, "numbers.safetensors");
      writeFileSync(path, io.safetensors.encode({ x }, { metadata: { [NUMBERS_METADATA_KEY]: value } }));
      expect(await io.load(path), value).toMatchObject({ left: { kind: "invalid-metadata" } });
    }
  });

  it("refuses reserved metadata keys and non-array leaves", async () => {
    await expect(
      io.save(join(dir, "r.safetensors"), { w: np.array([1]) }, { metadata: { "tracegrad.x": "1" } }),
    ).rejects.toThrow(/reserved/);
  });
});

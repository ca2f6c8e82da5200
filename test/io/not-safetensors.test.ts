import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { describe, expect, it } from "vitest";
import { io } from "../../src/index.js";
import { io as nodeIo } from "../../src/node.js";

function fileOf(header: string): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  return out;
}

function leftOf<A>(result: E.Either<{ kind: string; message: string }, A>): {
  kind: string;
  message: string;
} {
  if (E.isRight(result)) throw new Error("expected a decode error");
  return result.left;
}

describe("io.load of a file that is not safetensors", () => {
  it("says so and names the path, whatever the first 8 bytes claim as a length", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tracegrad-not-st-"));
    const text = join(dir, "notes.txt");
    // "# Notes\n" read as a little-endian u64 is 2481321132518023203 or so: once reported as header-too-large.
    writeFileSync(text, "# Notes\nThis is a text file, not a checkpoint.\n");
    const error = leftOf(await nodeIo.load(text));
    expect(error.kind).toBe("not-safetensors");
    expect(error.message).toContain(text);
    expect(error.message).toMatch(/not a safetensors file: the header must start with '\{'/);

    const json = join(dir, "short-length.bin");
    // A plausible length but a header that is JSON of another kind (was invalid-json / invalid-header).
    writeFileSync(json, fileOf('["weights"]'));
    expect(leftOf(await nodeIo.load(json)).kind).toBe("not-safetensors");
  });
});

describe("safetensors: over-long numbers are refused before they are parsed", () => {
  // Parsing an n-digit number as a BigInt is quadratic: a 10 MB header holding one number took seconds.
  const digits = "9".repeat(3_000_000);
  it("in a shape: bad-dimension", () => {
    const result = io.safetensors.decode(
      fileOf(`{"a":{"dtype":"F32","shape":[${digits}],"data_offsets":[0,0]}}`),
    );
    const error = leftOf(result);
    expect(error.kind).toBe("bad-dimension");
    expect(error.message).toMatch(/shape holds a number of 3000000 characters/);
    expect(error.message.length).toBeLessThan(400);
  });

  it("in data_offsets: offsets-beyond-data (or invalid-header when not an integer), with a short message", () => {
    const result = io.safetensors.decode(
      fileOf(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,${digits}]}}`),
    );
    const error = leftOf(result);
    expect(error.kind).toBe("offsets-beyond-data");
    expect(error.message).toMatch(/data_offsets holds a number of 3000000 characters/);
    const float = leftOf(
      io.safetensors.decode(fileOf(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,1e${digits}]}}`)),
    );
    expect(float.kind).toBe("invalid-header");
    expect(error.message.length).toBeLessThan(400);
  });

  it("numbers of valid length are still read exactly", () => {
    const big = "123456789012345678901"; // 21 characters: refused
    expect(
      leftOf(io.safetensors.decode(fileOf(`{"a":{"dtype":"F32","shape":[${big}],"data_offsets":[0,0]}}`)))
        .kind,
    ).toBe("bad-dimension");
    const ok = io.safetensors.decode(
      fileOf('{"a":{"dtype":"F32","shape":[0,1234567890123],"data_offsets":[0,0]}}'),
    );
    expect(E.isRight(ok)).toBe(true);
  });
});

/**
 * The ONNX form of threefry2x32-20 (the `onnx` rules of random_bits and random_fold_in, threefry.ts), in
 * integer ops only. Words are held as uint32 values in int64 (ONNX Runtime's Add and Mul take no uint32,
 * and its BitShift no signed type): a sum is masked to 32 bits, a rotation is a multiplication and an
 * integer division by powers of two, and xor is BitwiseXor (opset 18). The result converts back to the
 * int32 storage of the bits, same bits as the kernel's `| 0` arithmetic.
 */
import type { OnnxGraph } from "../core/onnx-rule.js";

const MASK = 0xffffffff;
const KS_PARITY = 0x1bd11bda;
const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];

/** 32-bit word arithmetic on int64 values in [0, 2^32). */
class Words {
  constructor(private readonly g: OnnxGraph) {}

  private int(value: number): string {
    return this.g.scalar(value, "int64");
  }

  /** (a + b + c...) mod 2^32. */
  add(...terms: string[]): string {
    let sum = terms[0]!;
    for (const t of terms.slice(1)) sum = this.g.node1("Add", [sum, t]);
    return this.g.node1("BitwiseAnd", [sum, this.int(MASK)]);
  }

  constant(c: number): string {
    return this.int(c);
  }

  xor(a: string, b: string): string {
    return this.g.node1("BitwiseXor", [a, b]);
  }

  /** Rotation left by r: ((x * 2^r) mod 2^32) | (x / 2^(32 - r)); x * 2^r < 2^61 fits int64. */
  rotl(x: string, r: number): string {
    const high = this.g.node1("BitwiseAnd", [this.g.node1("Mul", [x, this.int(2 ** r)]), this.int(MASK)]);
    const low = this.g.node1("Div", [x, this.int(2 ** (32 - r))]);
    return this.g.node1("BitwiseOr", [high, low]);
  }

  /** int32 bits (a model value) as their uint32 value in int64. */
  fromInt32(x: string): string {
    return this.g.node1("BitwiseAnd", [this.g.node1("Cast", [x], { to: 7 }), this.int(MASK)]);
  }

  /** uint32 values in int64 as int32 of the same bits (values from 2^31 on are negative). */
  toInt32(x: string): string {
    const negative = this.g.node1("Greater", [x, this.int(2 ** 31 - 1)]);
    const signed = this.g.node1("Where", [negative, this.g.node1("Sub", [x, this.int(2 ** 32)]), x]);
    return this.g.node1("Cast", [signed], { to: 6 });
  }
}

/**
 * The threefry2x32-20 block on word tensors (broadcasting): key (k0, k1), counters (x0, x1) to two word
 * tensors, with the rounds, rotations and key injections of hashInto (threefry.ts).
 */
function hash(w: Words, k0: string, k1: string, x0: string, x1: string): [string, string] {
  const ks = [k0, k1, w.xor(w.xor(k0, k1), w.constant(KS_PARITY))];
  let a = w.add(x0, k0);
  let b = w.add(x1, k1);
  for (let block = 0; block < 5; block++) {
    const base = (block & 1) * 4;
    for (let r = 0; r < 4; r++) {
      a = w.add(a, b);
      b = w.xor(w.rotl(b, ROTATIONS[base + r]!), a);
    }
    // Injection s: words (s+1) mod 3 and (s+2) mod 3 of [k0, k1, k2], plus s+1 on the second.
    const phase = block % 3;
    a = w.add(a, ks[(phase + 1) % 3]!);
    b = w.add(b, ks[(phase + 2) % 3]!, w.constant(block + 1));
  }
  return [a, b];
}

/**
 * random_bits: for each key of `key` ([...batch, 2]) the words of JAX's threefry_2x32(key, iota(size))
 * (see iotaBitsInto): counter pairs (i, half + i), the second half's padding counter 0, outputs the
 * first words then the second words without the padding, shaped [...batch, ...shape].
 */
export function randomBitsToOnnx(
  g: OnnxGraph,
  key: string,
  size: number,
  outShape: readonly number[],
): string {
  const w = new Words(g);
  const half = Math.ceil(size / 2);
  const counts0 = Array.from({ length: half }, (_, i) => i);
  const counts1 = Array.from({ length: half }, (_, i) => (half + i < size ? half + i : 0));
  const [k0, k1] = keyWords(g, w, key);
  const [a, b] = hash(w, k0, k1, g.int64s(counts0), g.int64s(counts1));
  const seconds = g.node1("Slice", [b, g.int64s([0]), g.int64s([size - half]), g.int64s([-1])]);
  const words = g.node1("Concat", [a, seconds], { axis: -1 });
  return w.toInt32(g.node1("Reshape", [words, g.int64s(outShape)]));
}

/** random_fold_in: the hash of the counter pair (0, data) under each key, as a key [..., 2]. */
export function foldInToOnnx(g: OnnxGraph, key: string, data: string): string {
  const w = new Words(g);
  const [k0, k1] = keyWords(g, w, key);
  const x1 = w.fromInt32(g.node1("Unsqueeze", [data, g.int64s([-1])]));
  const [a, b] = hash(w, k0, k1, w.constant(0), x1);
  return w.toInt32(g.node1("Concat", [a, b], { axis: -1 }));
}

/** A key's two words, each [...batch, 1] (so that they broadcast against counters on the last axis). */
function keyWords(g: OnnxGraph, w: Words, key: string): [string, string] {
  const word = (i: number) => w.fromInt32(g.node1("Gather", [key, g.int64s([i])], { axis: -1 }));
  return [word(0), word(1)];
}

/**
 * Exact conversions between JS numbers and the bits of the 16-bit floats (IEEE binary16 `float16` and
 * Google's `bfloat16`), which this library stores in Uint16Arrays (Node 20 has no Float16Array).
 * Rounding is to nearest, ties to even, from the double (as numpy's `astype(np.float16)` from float64 and
 * torch's `.to(torch.bfloat16)`); overflow goes to ±Infinity; subnormals, ±0, ±Infinity and NaN are
 * kept (NaN becomes the quiet NaN 0x7e00 / 0x7fc0 with the sign of the input).
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bits nearest to `value` (round to nearest even, from the double, not via float32). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  // A float32 value (every op's result): from its bits. Else from the double (one rounding, as numpy).
  return f32[0] === value ? float32ToFloat16Bits(u32[0]!) : doubleToFloat16Bits(value);
}

/** float32 bits to float16 bits, rounding half to even (NaN: the quiet NaN of the sign). */
function float32ToFloat16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | (mantissa !== 0 ? 0x7e00 : 0x7c00);
  if (exponent > 142) return sign | 0x7c00; // 2**16 and beyond
  if (exponent >= 113) {
    // Normal in float16: 10 of the 23 fraction bits; a carry may reach the exponent (and infinity): right.
    const h = ((exponent - 112) << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? h + 1 : h);
  }
  if (exponent < 102) return sign; // below 2**-25: rounds to ±0
  // Subnormal in float16: the significand in units of 2**-24.
  const m = mantissa | 0x800000;
  const shift = 126 - exponent;
  const h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (rest > half || (rest === half && (h & 1) === 1) ? h + 1 : h);
}

function doubleToFloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  // 65520 is half way between the largest float16 (65504) and 2**16: it and beyond round to infinity.
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    // Subnormal (or zero): units of 2**-24, rounded half to even.
    return sign | roundHalfEven(a * 2 ** 24);
  }
  let exponent = Math.floor(Math.log2(a));
  // log2 can be off by one near powers of two.
  if (2 ** exponent > a) exponent -= 1;
  else if (2 ** (exponent + 1) <= a) exponent += 1;
  // 10 fraction bits: the significand in units of 2**(exponent - 10); a carry to 2048 bumps the exponent.
  const significand = roundHalfEven(a * 2 ** (10 - exponent));
  return sign | (((exponent + 15) << 10) + (significand - 1024));
}

/** The value of every float16 bit pattern (exact in float32). */
const FLOAT16_VALUES: Float32Array = (() => {
  const table = new Float32Array(0x10000);
  for (let b = 0; b < 0x10000; b++) table[b] = float16Value(b);
  return table;
})();

/** The value of float16 bits. */
export function fromFloat16Bits(bits: number): number {
  return FLOAT16_VALUES[bits & 0xffff]!;
}

function float16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/**
 * The bfloat16 bits nearest to `value`: the double rounds to float32 first, then the float32 bits round
 * half to even to their top 16 (torch rounds the same way from float32; from a double the two roundings
 * can differ from one rounding in the last bit only for values within 2**-29 relative of a tie).
 */
export function toBfloat16Bits(value: number): number {
  if (Number.isNaN(value)) return 0x7fc0;
  f32[0] = value;
  const bits = u32[0]!;
  const lower = bits & 0xffff;
  let upper = bits >>> 16;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper += 1; // may carry into infinity: right
  return upper & 0xffff;
}

/** The value of bfloat16 bits (exact in float32). */
export function fromBfloat16Bits(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** `value` rounded to float16 (a JS number again). */
export function roundToFloat16(value: number): number {
  return fromFloat16Bits(toFloat16Bits(value));
}

/** `value` rounded to bfloat16 (a JS number again). */
export function roundToBfloat16(value: number): number {
  return fromBfloat16Bits(toBfloat16Bits(value));
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Exact conversions between JS numbers and the bits of the 16-bit floats (IEEE binary16 `float16` and
 * Google's `bfloat16`), which this library stores in Uint16Arrays (Node 20 has no Float16Array).
 * Rounding is to nearest, ties to even, from the double (as numpy's `astype(np.float16)` from float64 and
 * torch's `.to(torch.bfloat16)`); overflow goes to ±Infinity; subnormals, ±0, ±Infinity and NaN are
 * kept (NaN becomes the quiet NaN 0x7e00 / 0x7fc0 with the sign of the input).
 */

const scratch = new DataView(new ArrayBuffer(8));

/** The float16 bits nearest to `value` (round to nearest even, from the double, not via float32). */
export function toFloat16Bits(value: number): number {
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

/** The value of float16 bits. */
export function fromFloat16Bits(bits: number): number {
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
  scratch.setFloat32(0, value);
  const bits = scratch.getUint32(0);
  const lower = bits & 0xffff;
  let upper = bits >>> 16;
  if (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) upper += 1; // may carry into infinity: right
  return upper & 0xffff;
}

/** The value of bfloat16 bits (exact in float32). */
export function fromBfloat16Bits(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
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

/**
 * The protobuf wire format, writing only: what encoding an ONNX ModelProto needs (varints, length-
 * delimited fields, packed repeated int64s). Hand-written rather than a dependency: ~80 lines, no schema
 * compiler, and the exporter never reads a model back (ONNX Runtime does that in the tests).
 */

const WireType = { Varint: 0, LengthDelimited: 2, Fixed32: 5 } as const;
type WireType = (typeof WireType)[keyof typeof WireType];

const textEncoder = new TextEncoder();

/** Accumulates one protobuf message; nested messages are written into their own writer, then embedded. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private current: number[] = [];
  private length = 0;

  private flushCurrent(): void {
    if (this.current.length > 0) {
      this.chunks.push(Uint8Array.from(this.current));
      this.current = [];
    }
  }

  private byte(b: number): void {
    this.current.push(b);
    this.length++;
  }

  private rawBytes(bytes: Uint8Array): void {
    this.flushCurrent();
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** An unsigned or two's-complement (negative int64) varint; exact for |value| < 2^53. */
  private varint(value: number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  private tag(field: number, wire: WireType): void {
    this.varint(field * 8 + wire);
  }

  /** An int32, int64 or enum field. */
  int(field: number, value: number): this {
    this.tag(field, WireType.Varint);
    this.varint(value);
    return this;
  }

  /** A float field (4 bytes, little-endian). */
  float(field: number, value: number): this {
    this.tag(field, WireType.Fixed32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.rawBytes(b);
    return this;
  }

  /** A bytes field. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WireType.LengthDelimited);
    this.varint(value.length);
    this.rawBytes(value);
    return this;
  }

  /** A string field (UTF-8). */
  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** An embedded message. */
  message(field: number, value: ProtoWriter): this {
    return this.bytes(field, value.finish());
  }

  /** A packed repeated int64 field. */
  packedInts(field: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    this.flushCurrent();
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.chunks = [out];
    return out;
  }
}

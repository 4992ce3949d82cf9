// A growable byte buffer with the protobuf wire encodings the OTLP span encoder needs (varint,
// fixed32/64, double, length-delimited). Protobuf's wire format is fixed by its specification
// (protobuf.dev/programming-guides/encoding); this is the small subset OTLP traces use.

/** Protobuf wire types. */
export const WIRE = { varint: 0, fixed64: 1, delimited: 2, fixed32: 5 } as const;

const TWO_32 = 4_294_967_296;

export class ProtobufBuffer {
  private bytes: Buffer;
  pos = 0;

  constructor(initialSize = 4_096) {
    this.bytes = Buffer.allocUnsafe(Math.max(64, initialSize));
  }

  /** The bytes written, as a Buffer of their own (the buffer is not used again). */
  finish(): Buffer {
    return this.bytes.subarray(0, this.pos);
  }

  tag(field: number, wire: number): void {
    const key = field * 8 + wire;
    if (key >= 0x80) {
      this.varint(key);
      return;
    }
    this.ensure(1);
    this.bytes[this.pos++] = key;
  }

  /** A non-negative integer below 2^53 as a varint. */
  varint(value: number): void {
    this.ensure(10);
    const b = this.bytes;
    let v = value;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }

  /** A signed integer (|value| < 2^53) as int64: a negative one takes ten bytes, two's complement. */
  int64(value: number): void {
    if (value >= 0) {
      this.varint(value);
      return;
    }
    let lo = value >>> 0;
    let hi = Math.floor(value / TWO_32) >>> 0;
    this.ensure(10);
    const b = this.bytes;
    while (hi > 0 || lo >= 0x80) {
      b[this.pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    b[this.pos++] = lo;
  }

  fixed32(value: number): void {
    this.ensure(4);
    this.word(value);
  }

  /** A 64-bit unsigned integer given as its low and high 32 bits. */
  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    this.word(lo);
    this.word(hi);
  }

  /** 32 bits little-endian; room was ensured. */
  private word(value: number): void {
    const b = this.bytes;
    b[this.pos++] = value;
    b[this.pos++] = value >>> 8;
    b[this.pos++] = value >>> 16;
    b[this.pos++] = value >>> 24;
  }

  /**
   * Epoch milliseconds (with sub-millisecond fractions) as fixed64 nanoseconds. Seconds and nanoseconds
   * are split as OpenTelemetry's millisToHrTime does (so both encoders agree to the nanosecond), and
   * seconds × 10^9, beyond 2^53, is summed in 32-bit halves to stay exact.
   */
  epochNanos(epochMs: number): void {
    const seconds = Math.trunc(epochMs / 1000);
    const nanos = Math.round((epochMs % 1000) * 1e6);
    const lowSeconds = seconds % 0x10000;
    const highPart = Math.floor(seconds / 0x10000) * 1e9; // × 2^16 below
    const a = lowSeconds * 1e9 + nanos; // exact: below 2^47
    const lowSum = (a % TWO_32) + (highPart % 0x10000) * 0x10000;
    const lo = lowSum % TWO_32;
    const hi = Math.floor(a / TWO_32) + Math.floor(highPart / 0x10000) + Math.floor(lowSum / TWO_32);
    this.fixed64(lo, hi);
  }

  double(value: number): void {
    this.ensure(8);
    this.bytes.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Bytes as they are (already encoded fields, or an id after its tag and length). */
  raw(bytes: Uint8Array, start = 0, end = bytes.length): void {
    const n = end - start;
    this.ensure(n);
    if (n > 64) {
      this.bytes.set(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end), this.pos);
      this.pos += n;
      return;
    }
    // Ids and encoded keys are a few bytes: a loop beats making a view for set().
    const b = this.bytes;
    let at = this.pos;
    for (let i = start; i < end; i++) b[at++] = bytes[i];
    this.pos = at;
  }

  /** A string's length and UTF-8 bytes. */
  string(text: string): void {
    const n = text.length;
    const from = this.pos;
    this.varint(n);
    this.ensure(n);
    // Copy as ASCII (length = UTF-16 length) until a character says otherwise.
    const b = this.bytes;
    let at = this.pos;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) {
        this.pos = from;
        this.utf8(text);
        return;
      }
      b[at++] = c;
    }
    this.pos = at;
  }

  private utf8(text: string): void {
    const size = Buffer.byteLength(text, "utf8");
    this.varint(size);
    this.ensure(size);
    this.pos += this.bytes.write(text, this.pos, "utf8");
  }

  /** Start a length-delimited field's content (after its tag); returns what `end` needs. */
  begin(): number {
    this.ensure(1);
    return this.pos++;
  }

  /**
   * End the content begun at `start`: write its length there, moving the content when the length
   * needs more than the one byte reserved (content of 128 bytes or more).
   */
  end(start: number): void {
    const length = this.pos - start - 1;
    if (length < 0x80) {
      this.bytes[start] = length;
      return;
    }
    let size = 1;
    for (let v = length; v >= 0x80; v = Math.floor(v / 0x80)) size++;
    this.ensure(size - 1);
    this.bytes.copyWithin(start + size, start + 1, this.pos);
    this.pos += size - 1;
    let at = start;
    let v = length;
    while (v >= 0x80) {
      this.bytes[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.bytes[at] = v;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.pos + n));
    this.bytes.copy(grown, 0, 0, this.pos);
    this.bytes = grown;
  }
}

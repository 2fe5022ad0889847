/**
 * Reads TensorBoard event files for the board, written apart from Edgeflow's writer
 * (core/summary/) on purpose: its own TFRecord unframing with every CRC-32C checked, its own
 * protobuf field decoding (varints, fixed 32/64-bit, length-delimited) of the Event, Summary,
 * HistogramProto, Image, TensorProto and GraphDef fields it shows. The summary test reads the
 * writer's files with it, so a mistake shared by writer and reader would need to be made twice.
 */

/** One decoded protobuf field. */
type Field =
  | { n: number; wire: 0; v: bigint }
  | { n: number; wire: 1; v: DataView }
  | { n: number; wire: 2; v: Uint8Array }
  | { n: number; wire: 5; v: DataView };

export class EventFileError extends Error {}

function fields(bytes: Uint8Array, what: string): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n, shift = 0n;
    for (;;) {
      if (i >= bytes.length) throw new EventFileError(`${what}: a varint runs past the end`);
      const b = bytes[i++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 63n) throw new EventFileError(`${what}: a varint longer than 10 bytes`);
    }
  };
  const take = (len: number): Uint8Array => {
    if (i + len > bytes.length) throw new EventFileError(`${what}: a field runs past the end`);
    const v = bytes.subarray(i, i + len);
    i += len;
    return v;
  };
  const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  while (i < bytes.length) {
    const key = Number(varint());
    const n = key >>> 3, wire = key & 7;
    if (wire === 0) out.push({ n, wire, v: varint() });
    else if (wire === 1) out.push({ n, wire, v: view(take(8)) });
    else if (wire === 2) out.push({ n, wire, v: take(Number(varint())) });
    else if (wire === 5) out.push({ n, wire, v: view(take(4)) });
    else throw new EventFileError(`${what}: field ${n} has wire type ${wire}`);
  }
  return out;
}

const utf8 = new TextDecoder();
const str = (f: Field) => (f.wire === 2 ? utf8.decode(f.v) : "");
const f64 = (f: Field) => (f.wire === 1 ? f.v.getFloat64(0, true) : NaN);
const int = (f: Field) => (f.wire === 0 ? Number(BigInt.asIntN(64, f.v)) : NaN);

/** Packed or not, the doubles of a repeated double field's occurrences. */
function doubles(fs: Field[], n: number): number[] {
  const out: number[] = [];
  for (const f of fs) {
    if (f.n !== n) continue;
    if (f.wire === 1) out.push(f.v.getFloat64(0, true));
    else if (f.wire === 2) {
      const d = new DataView(f.v.buffer, f.v.byteOffset, f.v.byteLength);
      for (let k = 0; k + 8 <= f.v.byteLength; k += 8) out.push(d.getFloat64(k, true));
    }
  }
  return out;
}

export interface HistogramValue {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

export interface SummaryValue {
  tag: string;
  pluginName?: string;
  scalar?: number;
  histogram?: HistogramValue;
  image?: { height: number; width: number; colorspace: number; png: Uint8Array };
  /** The string_val entries of a tensor value (the text plugin's). */
  text?: string[];
}

export interface GraphNode {
  name: string;
  op: string;
  inputs: string[];
  device: string;
}

export interface Event {
  wallTime: number;
  step: number;
  fileVersion?: string;
  graph?: GraphNode[];
  values?: SummaryValue[];
}

export interface EventFile {
  events: Event[];
  /** A last record cut short (a writer still writing, or one that crashed): dropped. */
  truncated: boolean;
}

/** The records of a TFRecord file, every length and data CRC checked. */
export function readRecords(bytes: Uint8Array, file = "event file"): {
  records: Uint8Array[];
  truncated: boolean;
} {
  const records: Uint8Array[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) return { records, truncated: true };
    const header = bytes.subarray(at, at + 8);
    if (view.getUint32(at + 8, true) !== masked(header)) {
      throw new EventFileError(`${file}: record at byte ${at}: the length's CRC does not match`);
    }
    const len = Number(view.getBigUint64(at, true));
    if (at + 12 + len + 4 > bytes.length) return { records, truncated: true };
    const data = bytes.subarray(at + 12, at + 12 + len);
    if (view.getUint32(at + 12 + len, true) !== masked(data)) {
      throw new EventFileError(`${file}: record at byte ${at}: the data's CRC does not match`);
    }
    records.push(data);
    at += 12 + len + 4;
  }
  return { records, truncated: false };
}

export function readEventFile(bytes: Uint8Array, file = "event file"): EventFile {
  const { records, truncated } = readRecords(bytes, file);
  return { events: records.map((r, i) => decodeEvent(r, `${file}: event ${i}`)), truncated };
}

function decodeEvent(bytes: Uint8Array, what: string): Event {
  const e: Event = { wallTime: 0, step: 0 };
  for (const f of fields(bytes, what)) {
    if (f.n === 1) e.wallTime = f64(f);
    else if (f.n === 2) e.step = int(f);
    else if (f.n === 3) e.fileVersion = str(f);
    else if (f.n === 4 && f.wire === 2) e.graph = decodeGraph(f.v, `${what}: graph_def`);
    else if (f.n === 5 && f.wire === 2) {
      e.values = fields(f.v, `${what}: summary`)
        .filter((v) => v.n === 1 && v.wire === 2)
        .map((v) => decodeValue((v as { v: Uint8Array }).v, `${what}: summary value`));
    }
  }
  return e;
}

function decodeValue(bytes: Uint8Array, what: string): SummaryValue {
  const v: SummaryValue = { tag: "" };
  for (const f of fields(bytes, what)) {
    if (f.n === 1) v.tag = str(f);
    else if (f.n === 2 && f.wire === 5) v.scalar = f.v.getFloat32(0, true);
    else if (f.n === 9 && f.wire === 2) {
      const plugin = fields(f.v, what).find((p) => p.n === 1);
      if (plugin?.wire === 2) {
        v.pluginName = str(fields(plugin.v, what).find((p) => p.n === 1) ?? plugin);
      }
    } else if (f.n === 5 && f.wire === 2) {
      const h = fields(f.v, `${what}: histo`);
      const one = (n: number) => f64(h.find((x) => x.n === n) ?? { n, wire: 1, v: zero8 });
      v.histogram = {
        min: one(1),
        max: one(2),
        num: one(3),
        sum: one(4),
        sumSquares: one(5),
        bucketLimit: doubles(h, 6),
        bucket: doubles(h, 7),
      };
    } else if (f.n === 4 && f.wire === 2) {
      const im = fields(f.v, `${what}: image`);
      const get = (n: number) => im.find((x) => x.n === n);
      const png = get(4);
      v.image = {
        height: int(get(1) ?? zeroVarint),
        width: int(get(2) ?? zeroVarint),
        colorspace: int(get(3) ?? zeroVarint),
        png: png?.wire === 2 ? png.v : new Uint8Array(),
      };
    } else if (f.n === 8 && f.wire === 2) {
      v.text = fields(f.v, `${what}: tensor`).filter((t) => t.n === 8).map(str);
    }
  }
  return v;
}

const zero8 = new DataView(new ArrayBuffer(8));
const zeroVarint: Field = { n: 0, wire: 0, v: 0n };

function decodeGraph(bytes: Uint8Array, what: string): GraphNode[] {
  return fields(bytes, what).filter((f) => f.n === 1 && f.wire === 2).map((f) => {
    const node: GraphNode = { name: "", op: "", inputs: [], device: "" };
    for (const x of fields((f as { v: Uint8Array }).v, `${what}: node`)) {
      if (x.n === 1) node.name = str(x);
      else if (x.n === 2) node.op = str(x);
      else if (x.n === 3) node.inputs.push(str(x));
      else if (x.n === 4) node.device = str(x);
    }
    return node;
  });
}

/** CRC-32C bit by bit (the writer uses a table), masked as TensorFlow's crc32c::Mask. */
function masked(bytes: Uint8Array): number {
  let crc = ~0;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0x82f63b78 & -(crc & 1));
  }
  crc = ~crc >>> 0;
  return (((crc >>> 15) | (crc << 17)) + 0xa282ead8) >>> 0;
}

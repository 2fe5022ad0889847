/**
 * A tfjs weights manifest's values: each group's shards read in order as one byte stream, each
 * weight taking its bytes in manifest order, dequantized as tfjs's decodeWeight does (uint8 and
 * uint16: `q * scale + min`, rounded for int32 weights; float16: the half's value). Every size is
 * checked against the bytes there are before anything is allocated for it.
 */
import { float16ToFloat32 } from "../../dtype.ts";
import { EdgeflowError } from "../../errors.ts";
import { ownedContent, shapeToJson, type TensorJson } from "../tensor_proto.ts";
import type { WeightDType, WeightGroup, WeightSpec } from "./model_json.ts";

export const TF_DTYPE: Record<WeightDType, string> = {
  float32: "DT_FLOAT",
  int32: "DT_INT32",
  bool: "DT_BOOL",
  string: "DT_STRING",
};
const STORED_WIDTH = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 } as const;
/** Each string weight value is a little-endian uint32 byte count, then the bytes. */
const STRING_LENGTH_BYTES = 4;

/** One group's shards as a byte stream; slices are views unless they cross a shard boundary. */
export class ShardStream {
  readonly total: number;
  private readonly starts: number[] = [];
  constructor(private readonly shards: readonly Uint8Array[]) {
    let total = 0;
    for (const s of shards) {
      this.starts.push(total);
      total += s.byteLength;
    }
    this.total = total;
  }

  /** Bytes [offset, offset + length); the caller has checked they exist. */
  slice(offset: number, length: number): Uint8Array {
    let i = this.starts.length - 1;
    while (i > 0 && this.starts[i] > offset) i--;
    const local = offset - this.starts[i];
    if (local + length <= this.shards[i].byteLength) {
      return this.shards[i].subarray(local, local + length);
    }
    const out = new Uint8Array(length);
    let copied = 0;
    for (let j = i; copied < length; j++) {
      const from = j === i ? local : 0;
      const part = this.shards[j].subarray(from, from + (length - copied));
      out.set(part, copied);
      copied += part.byteLength;
    }
    return out;
  }
}

/**
 * Decodes a group's weights from its shards into TensorProtos (JSON mapping); `where` names the
 * group's files for errors.
 */
export function decodeWeightGroup(
  group: WeightGroup,
  stream: ShardStream,
  path: string,
  where: string,
  placement?: WeightPlacement,
): Map<string, TensorJson> {
  const out = new Map<string, TensorJson>();
  let offset = 0;
  group.weights.forEach((spec, i) => {
    const field = `${path}.weights[${i}] ('${spec.name}')`;
    const count = elementCount(spec, `${where}: ${field}`);
    const decode = spec.dtype === "string" ? decodeStrings : decodeFixed;
    const [tensor, used] = decode(
      spec,
      count,
      stream,
      offset,
      `${where}: ${field}`,
      placement?.scratch ?? fresh,
    );
    offset += used;
    if (out.has(spec.name)) throw new EdgeflowError(`${where}: ${field} appears twice`);
    out.set(spec.name, placement ? placement.place(spec.name, tensor) : tensor);
  });
  if (offset !== stream.total) {
    throw new EdgeflowError(
      `${where}: ${path} describes ${offset} bytes of weights, its shards hold ${stream.total}`,
    );
  }
  return out;
}

function elementCount(spec: WeightSpec, where: string): number {
  let count = 1;
  for (const d of spec.shape) {
    count *= d;
    if (!Number.isSafeInteger(count)) {
      throw new EdgeflowError(`${where}: shape ${JSON.stringify(spec.shape)} is too large`);
    }
  }
  return count;
}

function byteLength(spec: WeightSpec, count: number): number {
  return count * STORED_WIDTH[spec.quantization?.dtype ?? spec.dtype as "float32"];
}

/**
 * Where decoded weights go when they do not stay on the host: `scratch` gives the bytes a weight is
 * decoded into (reused: valid until the next call), `place` moves the weight away at once and
 * returns what is kept instead. The host then never holds more than one decoded weight.
 */
export interface WeightPlacement {
  scratch(bytes: number): Uint8Array;
  place(name: string, tensor: TensorJson): TensorJson;
}

/** Fresh bytes: the decoded weight's own storage. */
const fresh = (bytes: number) => new Uint8Array(bytes);

/**
 * Decodes one weight of `count` elements from `offset` of the shards into bytes from `alloc`
 * (aligned for any dtype): its tensor, and the bytes it took.
 */
type WeightDecoder = (
  spec: WeightSpec,
  count: number,
  stream: ShardStream,
  offset: number,
  where: string,
  alloc: (bytes: number) => Uint8Array,
) => [TensorJson, number];

const decodeFixed: WeightDecoder = (spec, count, stream, offset, where, alloc) => {
  const bytes = byteLength(spec, count);
  if (offset + bytes > stream.total) {
    throw new EdgeflowError(
      `${where}: ${spec.dtype}${JSON.stringify(spec.shape)} needs ${bytes} bytes at offset ` +
        `${offset}; the shards hold ${stream.total}`,
    );
  }
  const raw = stream.slice(offset, bytes);
  const tensor: TensorJson = {
    dtype: TF_DTYPE[spec.dtype],
    tensorShape: shapeToJson(spec.shape),
  };
  let content: Uint8Array;
  const q = spec.quantization;
  if (!q) {
    // bool: tfjs reads any nonzero byte as true; TensorFlow's bools are 0 or 1. Others are
    // copied out of the shard (which the caller may own and the view may be unaligned): that
    // copy becomes the tensor's storage.
    if (spec.dtype === "bool") content = raw.map((b) => b === 0 ? 0 : 1);
    else {
      content = alloc(bytes);
      content.set(raw);
    }
  } else {
    const stored = q.dtype === "uint8" ? raw : new Uint16Array(raw.slice().buffer, 0, count); // copied: the view may be unaligned
    const out = alloc(count * 4);
    const values = spec.dtype === "int32"
      ? new Int32Array(out.buffer, out.byteOffset, count)
      : new Float32Array(out.buffer, out.byteOffset, count);
    if (q.dtype === "float16") {
      for (let i = 0; i < count; i++) values[i] = float16ToFloat32(stored[i]);
    } else if (spec.dtype === "int32") {
      for (let i = 0; i < count; i++) values[i] = Math.round(stored[i] * q.scale + q.min);
    } else if (q.dtype === "uint8") {
      // Each of the 256 codes once, in double, then rounded once to float32 as tfjs's
      // Float32Array store does; the loop only looks them up (mobilenet_v2_mid: 4.3 M weights
      // at every server's start).
      const table = new Float32Array(256);
      for (let b = 0; b < 256; b++) table[b] = b * q.scale + q.min;
      for (let i = 0; i < count; i++) values[i] = table[stored[i]];
    } else {
      // In double, then rounded once to float32, as tfjs's Float32Array store does.
      for (let i = 0; i < count; i++) values[i] = stored[i] * q.scale + q.min;
    }
    content = out;
  }
  // The bytes themselves, not base64: the importer adopts them as the Const's storage.
  if (content.byteLength > 0) tensor.tensorContent = ownedContent(content);
  return [tensor, bytes];
};

const decodeStrings: WeightDecoder = (spec, count, stream, offset, where) => {
  // Each string takes at least its length prefix: refuse a count the bytes cannot hold first.
  if (offset + count * STRING_LENGTH_BYTES > stream.total) {
    throw new EdgeflowError(
      `${where}: ${count} strings need at least ${count * STRING_LENGTH_BYTES} bytes at offset ` +
        `${offset}; the shards hold ${stream.total}`,
    );
  }
  const values: string[] = [];
  let at = offset;
  for (let i = 0; i < count; i++) {
    const prefix = stream.slice(at, STRING_LENGTH_BYTES);
    const length = new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0, true);
    at += STRING_LENGTH_BYTES;
    if (at + length > stream.total) {
      throw new EdgeflowError(
        `${where}: string ${i} of ${length} bytes at offset ${at} runs past the shards' ${stream.total}`,
      );
    }
    values.push(stream.slice(at, length).toBase64());
    at += length;
  }
  const tensor: TensorJson = {
    dtype: TF_DTYPE.string,
    tensorShape: shapeToJson(spec.shape),
    stringVal: values,
  };
  return [tensor, at - offset];
};

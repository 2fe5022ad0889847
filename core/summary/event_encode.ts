/**
 * Event and Summary protobufs (event_schema.ts) encoded with the formats' protobuf library.
 * Each function returns one Event's bytes, ready for TFRecord framing.
 */
import { BinaryWriter, LEN, VARINT, WireType, writePacked } from "../formats/protobuf/wire.ts";
import {
  DT_STRING,
  EVENT,
  FILE_VERSION,
  HISTOGRAM,
  PLUGIN_DATA,
  SUMMARY,
  SUMMARY_IMAGE,
  SUMMARY_METADATA,
  SUMMARY_VALUE,
  TENSOR,
} from "./event_schema.ts";

const F64 = WireType.Bit64;
const F32 = WireType.Bit32;

/** A histogram's statistics and buckets (HistogramProto): bucket i counts values ≤ limit i. */
export interface Histogram {
  min: number;
  max: number;
  num: number;
  sum: number;
  sumSquares: number;
  bucketLimit: number[];
  bucket: number[];
}

export interface EncodedImage {
  height: number;
  width: number;
  /** 1 grayscale, 3 RGB, 4 RGBA. */
  colorspace: number;
  png: Uint8Array;
}

/** One Summary.Value: exactly one of the value kinds. */
export type SummaryValue =
  & { tag: string; pluginName?: string }
  & (
    | { kind: "scalar"; value: number }
    | { kind: "histogram"; histogram: Histogram }
    | { kind: "image"; image: EncodedImage }
    | { kind: "text"; text: string }
  );

function header(w: BinaryWriter, wallTime: number, step: number): void {
  w.tag(EVENT.wallTime, F64).double(wallTime);
  if (step !== 0) w.tag(EVENT.step, VARINT).int64(step);
}

export function fileVersionEvent(wallTime: number): Uint8Array {
  const w = new BinaryWriter();
  header(w, wallTime, 0);
  w.tag(EVENT.fileVersion, LEN).string(FILE_VERSION);
  return w.finish();
}

export function graphEvent(wallTime: number, graphDef: Uint8Array): Uint8Array {
  const w = new BinaryWriter();
  header(w, wallTime, 0);
  w.tag(EVENT.graphDef, LEN).bytes(graphDef);
  return w.finish();
}

export function summaryEvent(
  wallTime: number,
  step: number,
  values: readonly SummaryValue[],
): Uint8Array {
  const w = new BinaryWriter();
  header(w, wallTime, step);
  w.tag(EVENT.summary, LEN).fork();
  for (const v of values) {
    w.tag(SUMMARY.value, LEN).fork();
    encodeValue(w, v);
    w.join();
  }
  w.join();
  return w.finish();
}

function encodeValue(w: BinaryWriter, v: SummaryValue): void {
  w.tag(SUMMARY_VALUE.tag, LEN).string(v.tag);
  if (v.pluginName) {
    w.tag(SUMMARY_VALUE.metadata, LEN).fork();
    w.tag(SUMMARY_METADATA.pluginData, LEN).fork();
    w.tag(PLUGIN_DATA.pluginName, LEN).string(v.pluginName);
    w.join();
    w.join();
  }
  switch (v.kind) {
    case "scalar":
      w.tag(SUMMARY_VALUE.simpleValue, F32).float(v.value);
      return;
    case "histogram": {
      const h = v.histogram;
      w.tag(SUMMARY_VALUE.histo, LEN).fork();
      w.tag(HISTOGRAM.min, F64).double(h.min);
      w.tag(HISTOGRAM.max, F64).double(h.max);
      w.tag(HISTOGRAM.num, F64).double(h.num);
      w.tag(HISTOGRAM.sum, F64).double(h.sum);
      w.tag(HISTOGRAM.sumSquares, F64).double(h.sumSquares);
      writePacked(w, HISTOGRAM.bucketLimit, h.bucketLimit, (w, x) => w.double(x));
      writePacked(w, HISTOGRAM.bucket, h.bucket, (w, x) => w.double(x));
      w.join();
      return;
    }
    case "image": {
      const im = v.image;
      w.tag(SUMMARY_VALUE.image, LEN).fork();
      w.tag(SUMMARY_IMAGE.height, VARINT).int32(im.height);
      w.tag(SUMMARY_IMAGE.width, VARINT).int32(im.width);
      w.tag(SUMMARY_IMAGE.colorspace, VARINT).int32(im.colorspace);
      w.tag(SUMMARY_IMAGE.encodedImageString, LEN).bytes(im.png);
      w.join();
      return;
    }
    case "text": {
      // The text plugin's form: a scalar string tensor.
      w.tag(SUMMARY_VALUE.tensor, LEN).fork();
      w.tag(TENSOR.dtype, VARINT).int32(DT_STRING);
      // A scalar: a TensorShapeProto with no dims.
      w.tag(TENSOR.tensorShape, LEN).fork().join();
      w.tag(TENSOR.stringVal, LEN).bytes(new TextEncoder().encode(v.text));
      w.join();
      return;
    }
  }
}

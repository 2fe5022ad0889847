/**
 * TensorFlow's DataType enum (tensorflow/core/framework/types.proto) by name and number. The JSON
 * mapping names the values and the wire carries the numbers; the whole enum is listed, not only
 * the dtypes Edgeflow has, so that a file using DT_DOUBLE decodes to a readable name and the
 * importer's error says "DT_DOUBLE" rather than 2.
 */
const NAMES: readonly (readonly [string, number])[] = [
  ["DT_INVALID", 0],
  ["DT_FLOAT", 1],
  ["DT_DOUBLE", 2],
  ["DT_INT32", 3],
  ["DT_UINT8", 4],
  ["DT_INT16", 5],
  ["DT_INT8", 6],
  ["DT_STRING", 7],
  ["DT_COMPLEX64", 8],
  ["DT_INT64", 9],
  ["DT_BOOL", 10],
  ["DT_QINT8", 11],
  ["DT_QUINT8", 12],
  ["DT_QINT32", 13],
  ["DT_BFLOAT16", 14],
  ["DT_QINT16", 15],
  ["DT_QUINT16", 16],
  ["DT_UINT16", 17],
  ["DT_COMPLEX128", 18],
  ["DT_HALF", 19],
  ["DT_RESOURCE", 20],
  ["DT_VARIANT", 21],
  ["DT_UINT32", 22],
  ["DT_UINT64", 23],
];
/** Reference dtypes of TF1 variables are the value types plus 100 ("DT_FLOAT_REF" = 101). */
const REF_OFFSET = 100;

const BY_NAME = new Map<string, number>(
  NAMES.flatMap(([n, v]) => [[n, v], [`${n}_REF`, v + REF_OFFSET]]),
);
const BY_NUMBER = new Map<number, string>([...BY_NAME].map(([n, v]) => [v, n]));

/** The enum name for a wire number; an unknown number stays a number (the importer refuses it). */
export function dataTypeName(n: number): string | number {
  return BY_NUMBER.get(n) ?? n;
}

/** The wire number for a JSON value (a name or a number); undefined when it is neither. */
export function dataTypeNumber(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) ? v : undefined;
  return BY_NAME.get(v);
}

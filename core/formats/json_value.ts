/**
 * Reading fields of a parsed JSON file that nobody has checked: each reader returns the value or
 * throws an EdgeflowError naming the field ("attr 'value': tensor.floatVal[1]") and what was
 * there, never a TypeError from reading a property of a number or a SyntaxError from base64.
 * The importer adds the node and op.
 */
import { EdgeflowError } from "../errors.ts";
import { describeValue } from "../tensor.ts";

/** A JSON object (not null, not an array). */
export function isJsonObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

export function badField(field: string, reason: string): EdgeflowError {
  return new EdgeflowError(`${field} ${reason}`);
}

export function jsonObject(v: unknown, field: string): Record<string, unknown> {
  if (!isJsonObject(v)) throw badField(field, `must be an object, got ${describeValue(v)}`);
  return v;
}

/** A list field; absent (proto3 omits empty lists) reads as []. */
export function jsonList(v: unknown, field: string): readonly unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw badField(field, `must be a list, got ${describeValue(v)}`);
  return v;
}

export function jsonString(v: unknown, field: string): string {
  if (typeof v !== "string") throw badField(field, `must be a string, got ${describeValue(v)}`);
  return v;
}

export function jsonBool(v: unknown, field: string): boolean {
  if (typeof v !== "boolean") {
    throw badField(field, `must be true or false, got ${describeValue(v)}`);
  }
  return v;
}

/**
 * An integer in [lo, hi]: a JSON number or a decimal string (the proto3 mapping writes 64-bit
 * integers as strings). A fraction, a non-number or a value out of range is refused, never wrapped.
 */
export function jsonInteger(v: unknown, field: string, lo: number, hi: number): number {
  const n = typeof v === "number"
    ? v
    : typeof v === "string" && /^-?\d+$/.test(v)
    ? Number(v)
    : NaN;
  if (!Number.isInteger(n)) throw badField(field, `must be an integer, got ${describeValue(v)}`);
  if (n < lo || n > hi) throw badField(field, `${n} is outside [${lo}, ${hi}]`);
  return n;
}

/** An int64 as a BigInt: a JSON number that is an integer, or a decimal string (exact). */
export function jsonInt64(v: unknown, field: string): bigint {
  if (typeof v === "string" && /^-?\d+$/.test(v)) {
    const b = BigInt(v);
    if (b === BigInt.asIntN(64, b)) return b;
    throw badField(field, `${v} is outside int64's range`);
  }
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  throw badField(
    field,
    `must be an int64 (an integer or a decimal string), got ${describeValue(v)}`,
  );
}

const FLOAT_WORDS: Record<string, number> = {
  NaN: NaN,
  Infinity: Infinity,
  "-Infinity": -Infinity,
};

/** A float: a JSON number, or "NaN"/"Infinity"/"-Infinity" (or a numeric string) as proto3 writes. */
export function jsonFloat(v: unknown, field: string): number {
  if (typeof v === "number") return v;
  if (typeof v === "string") {
    if (v in FLOAT_WORDS) return FLOAT_WORDS[v];
    const n = Number(v);
    if (v.trim() !== "" && !Number.isNaN(n)) return n;
  }
  throw badField(field, `must be a number, got ${describeValue(v)}`);
}

/** Bytes from standard base64, as proto3 JSON encodes bytes fields. */
export function jsonBytes(v: unknown, field: string): Uint8Array {
  // A loader's bytes in memory (TensorJson.tensorContent): no base64 round trip.
  if (v instanceof Uint8Array) return v;
  const s = jsonString(v, field);
  try {
    return Uint8Array.fromBase64(s);
  } catch {
    throw badField(field, `is not valid base64: ${describeValue(s)}`);
  }
}

/** A string stored as base64 bytes, decoded as UTF-8 (as the importer always has). */
export function jsonBase64Text(v: unknown, field: string): string {
  return new TextDecoder().decode(jsonBytes(v, field));
}

/** Validation of attribute values against their specs, with messages that name the attr. */
import { isDType } from "./dtype.ts";
import { EdgeflowError } from "./errors.ts";
import type { AttrSpec, AttrValue } from "./op.ts";
import { Tensor } from "./tensor.ts";

export function checkAttrValue(name: string, spec: AttrSpec<AttrValue>, value: AttrValue): void {
  const problem = kindProblem(spec.kind, value) ??
    (spec.allowed && !spec.allowed.includes(value)
      ? `must be one of ${spec.allowed.map((v) => JSON.stringify(v)).join(", ")}`
      : undefined) ??
    spec.validate?.(value);
  if (problem) {
    throw new EdgeflowError(`attribute '${name}' = ${show(value)} ${problem}`);
  }
}

function kindProblem(kind: AttrSpec<AttrValue>["kind"], v: AttrValue): string | undefined {
  switch (kind) {
    case "int":
      return Number.isInteger(v) ? undefined : "must be an integer";
    case "float":
      return typeof v === "number" ? undefined : "must be a number";
    case "bool":
      return typeof v === "boolean" ? undefined : "must be a boolean";
    case "string":
      return typeof v === "string" ? undefined : "must be a string";
    case "type":
      return isDType(v) ? undefined : "must be a dtype";
    case "shape":
      return v === null || (Array.isArray(v) && v.every((d) => Number.isInteger(d) && d >= -1))
        ? undefined
        : "must be a shape (dims ≥ -1, or null for unknown rank)";
    case "tensor":
      return v instanceof Tensor ? undefined : "must be a Tensor";
    case "list(int)":
      return Array.isArray(v) && v.every((x) => Number.isInteger(x))
        ? undefined
        : "must be a list of integers";
    case "list(float)":
      return Array.isArray(v) && v.every((x) => typeof x === "number")
        ? undefined
        : "must be a list of numbers";
    case "list(type)":
      return Array.isArray(v) && v.every(isDType) ? undefined : "must be a list of dtypes";
    case "list(string)":
      return Array.isArray(v) && v.every((x) => typeof x === "string")
        ? undefined
        : "must be a list of strings";
    case "list(shape)":
      return Array.isArray(v) ? undefined : "must be a list of shapes";
  }
}

function show(v: AttrValue): string {
  return v instanceof Tensor ? v.toString() : JSON.stringify(v);
}

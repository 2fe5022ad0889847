/**
 * Device names as TensorFlow writes them: "/job:localhost/replica:0/task:0/device:WASM:0",
 * with the short forms "/cpu:0", "/device:GPU:*" and "GPU:1". CPU and GPU in an imported graph mean
 * WASM and WEBGPU.
 */
import { EdgeflowError } from "./errors.ts";

/**
 * A device type: the upper-case name a plugin registers ("WASM", "TPU"). Any such name is valid,
 * so a new device plugin needs no edit in core; whether it is installed is the registry's
 * business.
 */
export type DeviceType = string;
/** The device types Edgeflow ships plugins for. */
export const DEVICE_TYPES: readonly DeviceType[] = ["REF", "WASM", "WEBGPU", "TPU", "NULL"];
/** What a device type may look like: TensorFlow's names are upper-case identifiers. */
const DEVICE_TYPE = /^[A-Z][A-Z0-9_]*$/;

/** A parsed, possibly partial device name; an absent field matches anything. */
export interface DeviceSpec {
  job?: string;
  replica?: number;
  task?: number;
  type?: DeviceType;
  /** undefined or "*" means any index. */
  index?: number;
}

const ALIASES: Record<string, DeviceType> = { CPU: "WASM", GPU: "WEBGPU" };

export function parseDeviceSpec(name: string): DeviceSpec {
  const spec: DeviceSpec = {};
  if (name === "") return spec;
  for (const part of name.split("/").filter((p) => p !== "")) {
    const [key, ...rest] = part.split(":");
    const lower = key.toLowerCase();
    if (lower === "job") spec.job = rest.join(":");
    else if (lower === "replica") spec.replica = parseIndex(rest[0], name);
    else if (lower === "task") spec.task = parseIndex(rest[0], name);
    else if (lower === "device") setType(spec, rest[0], rest[1], name);
    else setType(spec, key, rest[0], name);
  }
  return spec;
}

function setType(
  spec: DeviceSpec,
  type: string | undefined,
  index: string | undefined,
  name: string,
) {
  const upper = (type ?? "").toUpperCase();
  const resolved = ALIASES[upper] ?? upper;
  if (!DEVICE_TYPE.test(resolved)) {
    throw new EdgeflowError(`bad device type '${type}' in device name '${name}'`);
  }
  spec.type = resolved;
  if (index !== undefined && index !== "*") spec.index = parseIndex(index, name);
}

function parseIndex(s: string | undefined, name: string): number | undefined {
  if (s === undefined || s === "*") return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) {
    throw new EdgeflowError(`bad index '${s}' in device name '${name}'`);
  }
  return n;
}

/** The inner spec's fields win; the outer fills in what the inner leaves open (TF's merging). */
export function mergeDeviceSpecs(outer: DeviceSpec, inner: DeviceSpec): DeviceSpec {
  const merged: DeviceSpec = { ...outer };
  for (const [k, v] of Object.entries(inner)) {
    if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  }
  return merged;
}

export function formatDeviceSpec(spec: DeviceSpec): string {
  let s = "";
  if (spec.job !== undefined) s += `/job:${spec.job}`;
  if (spec.replica !== undefined) s += `/replica:${spec.replica}`;
  if (spec.task !== undefined) s += `/task:${spec.task}`;
  if (spec.type !== undefined) s += `/device:${spec.type}:${spec.index ?? "*"}`;
  return s;
}

/** The full name of a local device. */
export function fullDeviceName(type: DeviceType, index = 0): string {
  return `/job:localhost/replica:0/task:0/device:${type}:${index}`;
}

/** Whether a concrete device's spec satisfies a (partial) request. */
export function deviceMatches(request: DeviceSpec, device: DeviceSpec): boolean {
  return (request.job === undefined || request.job === device.job) &&
    (request.replica === undefined || request.replica === device.replica) &&
    (request.task === undefined || request.task === device.task) &&
    (request.type === undefined || request.type === device.type) &&
    (request.index === undefined || request.index === device.index);
}

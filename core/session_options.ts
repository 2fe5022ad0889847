/**
 * Checks the arguments of `new Session(graph, options)`: a misspelt option, an unknown device
 * name or a non-object is an EdgeflowError naming the option, raised when the session is made
 * rather than as a TypeError deep inside the first run.
 */
import { parseDeviceSpec } from "./device_spec.ts";
import { EdgeflowError } from "./errors.ts";
import { Graph } from "./graph.ts";
import { defaultRegistry, type KernelRegistry } from "./kernel.ts";
import { describeValue } from "./tensor.ts";
import { checkCostProfile } from "./placement/profile.ts";

/** The options a Session takes (SessionOptions' keys); anything else is refused as a typo. */
export const SESSION_OPTION_KEYS: readonly string[] = [
  "device",
  "registry",
  "passes",
  "deviceOptions",
  "devices",
  "deviceCount",
  "allowSoftPlacement",
  "strict",
  "costProfile",
];
const PASS_KEYS: readonly string[] = ["constantFolding", "cse"];

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function fail(what: string, reason: string): never {
  throw new EdgeflowError(`Session option ${what} ${reason}`);
}

function checkKeys(what: string, value: Record<string, unknown>, allowed: readonly string[]) {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      fail(`${what}'${key}'`, `is not one of ${allowed.map((k) => `'${k}'`).join(", ")}`);
    }
  }
}

/** Throws an EdgeflowError naming the first bad argument of `new Session(graph, options)`. */
export function checkSessionArgs(graph: unknown, options: unknown): void {
  if (!(graph instanceof Graph)) {
    throw new EdgeflowError(`Session: graph must be a Graph, got ${describeValue(graph)}`);
  }
  if (!isPlainObject(options)) {
    throw new EdgeflowError(`Session: options must be an object, got ${describeValue(options)}`);
  }
  checkKeys("", options, SESSION_OPTION_KEYS);
  const { device, registry, passes, deviceOptions, devices, deviceCount } = options;
  for (const key of ["allowSoftPlacement", "strict"]) {
    const v = options[key];
    if (v !== undefined && typeof v !== "boolean") {
      fail(`'${key}'`, `must be a boolean, got ${describeValue(v)}`);
    }
  }
  if (options.costProfile !== undefined) {
    try {
      checkCostProfile(options.costProfile);
    } catch (e) {
      fail("'costProfile'", (e as Error).message);
    }
  }
  if (deviceCount !== undefined) {
    if (!isPlainObject(deviceCount)) {
      fail(
        "'deviceCount'",
        `must be an object keyed by device type, got ${describeValue(deviceCount)}`,
      );
    }
    for (const [type, n] of Object.entries(deviceCount)) {
      if (!(typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 64)) {
        fail(
          `deviceCount.${type}`,
          `must be a whole number of devices from 1 to 64, got ${describeValue(n)}`,
        );
      }
    }
  }
  if (device !== undefined) {
    if (typeof device !== "string") {
      fail("'device'", `must be a string, got ${describeValue(device)}`);
    }
    try {
      parseDeviceSpec(device);
    } catch (e) {
      fail("'device'", (e as Error).message);
    }
  }
  if (
    registry !== undefined &&
    typeof (registry as Partial<KernelRegistry> | null)?.plugin !== "function"
  ) {
    fail("'registry'", `must be a KernelRegistry, got ${describeValue(registry)}`);
  }
  if (passes !== undefined) {
    if (!isPlainObject(passes)) fail("'passes'", `must be an object, got ${describeValue(passes)}`);
    checkKeys("passes.", passes, PASS_KEYS);
    for (const [k, v] of Object.entries(passes)) {
      if (v !== undefined && typeof v !== "boolean") {
        fail(`passes.${k}`, `must be a boolean, got ${describeValue(v)}`);
      }
    }
  }
  if (deviceOptions !== undefined) {
    if (!isPlainObject(deviceOptions)) {
      fail(
        "'deviceOptions'",
        `must be an object keyed by device type, got ${describeValue(deviceOptions)}`,
      );
    }
    for (const [type, value] of Object.entries(deviceOptions)) {
      // Device types are open (a plugin may add one), so a key must name an installed plugin:
      // that is what catches a misspelt type.
      const plugins = (registry as KernelRegistry | undefined) ?? defaultRegistry;
      if (!plugins.plugin(type)) {
        fail(
          `deviceOptions.${type}`,
          `names no installed device plugin (installed: ${plugins.pluginTypes().join(", ")})`,
        );
      }
      if (value !== undefined && !isPlainObject(value)) {
        fail(`deviceOptions.${type}`, `must be an object, got ${describeValue(value)}`);
      }
      const limit = (value as Record<string, unknown> | undefined)?.memoryLimit;
      if (limit !== undefined && !(typeof limit === "number" && limit > 0)) {
        fail(
          `deviceOptions.${type}.memoryLimit`,
          `must be a positive number of bytes, got ${describeValue(limit)}`,
        );
      }
    }
  }
  if (devices !== undefined) {
    if (!Array.isArray(devices)) {
      fail("'devices'", `must be an array, got ${describeValue(devices)}`);
    }
    devices.forEach((d, i) => {
      if (!isPlainObject(d) || typeof d.type !== "string") {
        fail(`devices[${i}]`, `must be a Device, got ${describeValue(d)}`);
      }
    });
  }
}

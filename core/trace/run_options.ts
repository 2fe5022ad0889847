/**
 * The run options that observe a run (metadata, trace, checkNumerics, compareWithReference):
 * checked here, and turned into the one executor observer they need (none when all are off, so
 * a plain run pays nothing).
 */
import type { DeviceBuffer } from "../device.ts";
import { EdgeflowError } from "../errors.ts";
import { isFloat } from "../dtype.ts";
import type { RunOptions } from "../session.ts";
import { HostBuffer } from "../buffer.ts";
import { ReferenceComparer } from "./compare_reference.ts";
import { firstNonFinite, NumericsChecker } from "./numerics.ts";
import { combineObservers, type ExecutionObserver } from "./observer.ts";
import { StepRecorder } from "./step_recorder.ts";

const FLAGS = ["trace", "checkNumerics", "compareWithReference"] as const;
const KEYS = new Set<string>(["metadata", ...FLAGS]);

/** Refuses options that are not an object, unknown keys, and flags that are not booleans. */
export function checkRunOptions(options: unknown): asserts options is RunOptions {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new EdgeflowError(
      `run: options (4th argument) must be an object, got ${
        options === null ? "null" : Array.isArray(options) ? "an array" : typeof options
      }`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!KEYS.has(key)) {
      throw new EdgeflowError(
        `run: unknown run option '${key}' (known: ${[...KEYS].join(", ")})`,
      );
    }
  }
  const o = options as Record<string, unknown>;
  for (const flag of FLAGS) {
    if (o[flag] !== undefined && typeof o[flag] !== "boolean") {
      throw new EdgeflowError(`run: option '${flag}' must be a boolean, got ${typeof o[flag]}`);
    }
  }
  if (o.metadata !== undefined && (typeof o.metadata !== "object" || o.metadata === null)) {
    throw new EdgeflowError(`run: option 'metadata' must be an object to fill`);
  }
  if (o.trace && !o.metadata) {
    throw new EdgeflowError(
      "run: option 'trace' records into 'metadata': pass { trace: true, metadata: {} }",
    );
  }
}

export interface ObservedRun {
  readonly observer: ExecutionObserver;
  /** After the run: fills the metadata, and throws for a reference difference. */
  finish(): void;
}

/** The observer a run's options ask for, or undefined when they ask for none. */
export function runObserver(
  options: RunOptions,
  feedNames: readonly string[],
  feeds: readonly DeviceBuffer[],
): ObservedRun | undefined {
  const list: ExecutionObserver[] = [];
  const { metadata } = options;
  let recorder: StepRecorder | undefined;
  if (metadata) list.push(recorder = new StepRecorder());
  if (options.checkNumerics) {
    checkFedNumerics(feedNames, feeds);
    list.push(new NumericsChecker());
  }
  let comparer: ReferenceComparer | undefined;
  if (options.compareWithReference) list.push(comparer = new ReferenceComparer());
  const observer = combineObservers(list);
  if (!observer) return undefined;
  return {
    observer,
    finish() {
      if (metadata && recorder) {
        metadata.steps = recorder.steps;
        if (options.trace) metadata.trace = recorder.trace();
      }
      if (comparer) {
        if (metadata) metadata.comparison = comparer.report();
        comparer.throwFirst();
      }
    },
  };
}

/** A fed value holding NaN or Inf is named before any node runs on it. */
function checkFedNumerics(names: readonly string[], feeds: readonly DeviceBuffer[]): void {
  feeds.forEach((b, i) => {
    if (!(b instanceof HostBuffer) || !isFloat(b.dtype)) return;
    const bad = firstNonFinite(b.tensor);
    if (bad) {
      throw new EdgeflowError(
        `checkNumerics: the value fed for ${names[i]} holds ${bad.value} (element ${bad.index})`,
      );
    }
  });
}

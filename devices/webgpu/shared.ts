/**
 * One GPUDevice per adapter choice for the whole process, shared by every WebGpuDevice (so by
 * every session) and never destroyed: its compiled pipelines serve every session, and creating
 * and closing sessions leaves the process flat. A GPUDevice cannot be let go otherwise: once its
 * `lost` promise is observed (and a device must watch for loss), Deno keeps the device alive
 * until it is lost, which measured 7 MiB and one thread per session; `GPUDevice.destroy()` would
 * release it, but Deno 2.9's WebGPU intermittently aborts at exit ("double free") after it.
 *
 * Loss and errors the GPU reports outside an error scope reach every WebGpuDevice on the device;
 * a lost device leaves the cache, so the next session requests a fresh one.
 */
import { EdgeflowError } from "../../core/errors.ts";
import { PipelineCache } from "./pipelines.ts";
import { Warmup } from "./warmup.ts";

/** What a WebGpuDevice hears from the shared GPUDevice. */
export interface GpuListener {
  lost(info: GPUDeviceLostInfo): void;
  error(e: GPUError): void;
}

export interface SharedGpu {
  readonly device: GPUDevice;
  readonly info: GPUAdapterInfo;
  readonly pipelines: PipelineCache;
  readonly warmup: Warmup;
  /** The WebGpuDevices using it; each leaves on dispose. */
  readonly listeners: Set<GpuListener>;
}

export interface SharedGpuOptions {
  powerPreference?: GPUPowerPreference;
  /** Requires the adapter's shader-f16 feature (an EdgeflowError where it lacks it). */
  shaderF16: boolean;
}

const devices = new Map<string, Promise<SharedGpu | null>>();

/**
 * The process's GPUDevice for `options`, requested on first use; null where there is no adapter
 * (not remembered: a later call asks again).
 */
export function sharedGpu(gpu: GPU, options: SharedGpuOptions): Promise<SharedGpu | null> {
  const key = `${options.powerPreference ?? ""}|${options.shaderF16}`;
  let entry = devices.get(key);
  if (!entry) {
    const requested: Promise<SharedGpu | null> = request(gpu, options).then((shared) => {
      if (!shared) {
        devices.delete(key);
        return null;
      }
      shared.device.lost.then((info) => {
        if (devices.get(key) === requested) devices.delete(key);
        for (const l of shared.listeners) l.lost(info);
      });
      return shared;
    });
    entry = requested;
    devices.set(key, entry);
    entry.catch(() => devices.delete(key));
  }
  return entry;
}

async function request(gpu: GPU, options: SharedGpuOptions): Promise<SharedGpu | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) return null;
  if (options.shaderF16 && !adapter.features.has("shader-f16")) {
    throw new EdgeflowError(
      `the shaderF16 option needs the adapter's shader-f16 feature, which ` +
        `${adapter.info.description || "this adapter"} lacks`,
    );
  }
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: options.shaderF16 ? ["shader-f16"] : [],
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  });
  const pipelines = new PipelineCache(device);
  const listeners = new Set<GpuListener>();
  device.addEventListener("uncapturederror", (event) => {
    const e = (event as GPUUncapturedErrorEvent).error;
    for (const l of listeners) l.error(e);
  });
  return {
    device,
    info: adapter.info,
    pipelines,
    warmup: new Warmup(device, pipelines),
    listeners,
  };
}

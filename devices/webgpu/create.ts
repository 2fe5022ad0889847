/**
 * Finding a GPU: requests an adapter and a device with the adapter's own buffer limits (the
 * defaults cap bindings at 128 MiB). Returns null where there is no WebGPU or no adapter; Mesa's
 * lavapipe gives a software adapter on machines without a GPU.
 */
import { EdgeflowError } from "../../core/errors.ts";
import { WebGpuDevice, type WebGpuOptions } from "./device.ts";

export async function createWebGpuDevice(
  options: WebGpuOptions = {},
): Promise<WebGpuDevice | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  quietMesa();
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
  return new WebGpuDevice(device, adapter.info, options);
}

/**
 * Mesa logs an error on every adapter request when XDG_RUNTIME_DIR is unset; point it at a
 * private temporary directory (only where the process may read and set the environment).
 */
function quietMesa(): void {
  try {
    if (typeof Deno === "undefined" || Deno.env.get("XDG_RUNTIME_DIR")) return;
    const uid = Deno.uid() ?? "user";
    const dir = `${Deno.env.get("TMPDIR") ?? "/tmp"}/edgeflow-xdg-${uid}`;
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    Deno.env.set("XDG_RUNTIME_DIR", dir);
  } catch {
    // Without env or write permission Mesa only logs; WebGPU still works.
  }
}

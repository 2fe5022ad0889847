/**
 * Finding a GPU: the process's shared GPUDevice (shared.ts; requested with the adapter's own
 * buffer limits, as the defaults cap bindings at 128 MiB) wrapped in a WebGpuDevice of its own.
 * Returns null where there is no WebGPU or no adapter; Mesa's lavapipe gives a software adapter
 * on machines without a GPU.
 */
import { WebGpuDevice, type WebGpuOptions } from "./device.ts";
import { sharedGpu } from "./shared.ts";

export async function createWebGpuDevice(
  options: WebGpuOptions = {},
): Promise<WebGpuDevice | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  quietMesa();
  const shared = await sharedGpu(gpu, {
    powerPreference: options.powerPreference,
    shaderF16: options.shaderF16 === true,
  });
  return shared && new WebGpuDevice(shared, options);
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

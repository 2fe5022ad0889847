// One device per type for the whole suite (creating a device per case would dominate the run).
import type { Device } from "../../core/device.ts";
import type { DeviceType } from "../../core/device_spec.ts";
import { defaultRegistry } from "../../core/kernel.ts";

const devices = new Map<DeviceType, Promise<Device | null>>();

/**
 * The suite's device of a type, or null where the machine has none (reported via the test
 * context, never silently): in CI a missing device fails the test.
 */
export async function deviceFor(type: DeviceType, t: Deno.TestContext): Promise<Device | null> {
  let d = devices.get(type);
  if (!d) {
    d = defaultRegistry.plugin(type)!.create();
    devices.set(type, d);
  }
  const device = await d;
  if (device) return device;
  reportMissing(t, `no ${type} device on this machine`);
  return null;
}

/**
 * What every test does when the machine lacks what it needs: in CI it fails (CI installs every
 * device), elsewhere it prints why it skipped, never skipping silently.
 */
export function reportMissing(t: Deno.TestContext, reason: string): void {
  if (Deno.env.get("CI")) throw new Error(`${reason} (CI requires it)`);
  console.log(`  skipped ${t.name}: ${reason}`);
}

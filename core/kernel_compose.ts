/**
 * Running one kernel's instance inside another's (a fused op's contraction): the inner instance
 * gets a context whose outputs the outer kernel chooses (`output` is redirected), everything else
 * being the outer context's. Device-agnostic: only KernelContext's own methods are involved.
 */
import type { DeviceBuffer } from "./device.ts";
import type { KernelContext } from "./kernel.ts";
import type { Shape } from "./shape.ts";

/**
 * `ctx` with `output(i, shape)` answered by `redirect` (which may allocate a temporary instead of
 * the node's output); every other member is the outer context's, bound to it.
 */
export function redirectOutputs<C extends KernelContext>(
  ctx: C,
  redirect: (i: number, shape: Shape | undefined) => DeviceBuffer,
): C {
  return new Proxy(ctx, {
    get(target, p) {
      if (p === "output") return redirect;
      const v = Reflect.get(target, p, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

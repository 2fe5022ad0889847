/**
 * Running one kernel's instance inside another's (a fused op's contraction): the inner instance
 * gets a context whose members the outer kernel may replace (`output`, to write a temporary or to
 * see the buffer; `device`, to collect what a simulated device is charged), everything else being
 * the outer context's, bound to it. Device-agnostic: only KernelContext's members are involved.
 */
import type { KernelContext } from "./kernel.ts";

/** `ctx` with the members in `overrides` replaced. */
export function innerContext<C extends KernelContext>(ctx: C, overrides: Partial<C>): C {
  return new Proxy(ctx, {
    get(target, p) {
      if (Object.hasOwn(overrides, p)) return overrides[p as keyof C];
      const v = Reflect.get(target, p, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

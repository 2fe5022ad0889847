/**
 * ONNX's training optimizers (domain ai.onnx.preview.training, opset 1) as arithmetic on their
 * inputs: Adagrad, Momentum (standard and Nesterov) and Adam each update n tensors at once. Their
 * inputs are R (the learning rate), T (the update count), then n of each per-tensor group (X, G
 * and the state); their outputs, the new X, then the new states, group by group. The formulas are
 * ONNX's operator definitions, evaluated in the inputs' float type; the attributes' defaults are its
 * schema's (onnx.defs: epsilon 1e-6 for Adagrad and Adam).
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

export const TRAINING_DOMAIN = "ai.onnx.preview.training";

/** R, T and the n tensors of each of `groups` groups, checked for a whole count. */
function groupsOf(c: OnnxNodeContext, groups: number): { r: Output; t: Output; of: Output[][] } {
  const n = (c.inputCount - 2) / groups;
  if (!(n >= 1 && Number.isInteger(n))) {
    throw c.error(`${c.inputCount} inputs are not R, T and ${groups} groups of equal size`);
  }
  const of = Array.from(
    { length: groups },
    (_, g) => Array.from({ length: n }, (_, i) => c.req(2 + g * n + i)),
  );
  return { r: c.req(0), t: c.req(1), of };
}

/** T as a float scalar of `like`'s dtype. */
function countAs(c: OnnxNodeContext, t: Output, like: Output): Output {
  return c.out("Cast", [t], { DstT: like.dtype });
}

/** norm_coefficient · X + G: the gradient with its L2 term. */
function regularized(c: OnnxNodeContext, x: Output, g: Output, norm: number): Output {
  return norm === 0 ? g : c.out("AddV2", [c.out("Mul", [c.scalar(norm, x.dtype), x]), g]);
}

/** Per tensor [new X, new states...] as ONNX orders the outputs: every new X, then each state's. */
function byOutput(perTensor: Output[][]): Output[] {
  return perTensor[0].flatMap((_, k) => perTensor.map((outs) => outs[k]));
}

export const TRAINING_MAPPERS: Record<string, OnnxMapper> = {
  Adagrad: (c) => {
    const { r, t, of: [xs, gs, hs] } = groupsOf(c, 3);
    const decay = c.float("decay_factor", 0), eps = c.float("epsilon", 1e-6);
    const norm = c.float("norm_coefficient", 0);
    // r = R / (1 + T · decay_factor)
    const rate = c.out("RealDiv", [
      r,
      c.out("AddV2", [
        c.scalar(1, r.dtype),
        c.out("Mul", [countAs(c, t, r), c.scalar(decay, r.dtype)]),
      ]),
    ]);
    const out = xs.map((x, i) => {
      const g = regularized(c, x, gs[i], norm);
      const h = c.out("AddV2", [hs[i], c.out("Square", [g])]);
      const adaptive = c.out("AddV2", [c.out("Sqrt", [h]), c.scalar(eps, x.dtype)]);
      return [c.out("Sub", [x, c.out("Mul", [rate, c.out("RealDiv", [g, adaptive])])]), h];
    });
    return byOutput(out);
  },
  Momentum: (c) => {
    const { r, t, of: [xs, gs, vs] } = groupsOf(c, 3);
    // Momentum's four attributes are required (no defaults in ONNX's schema).
    for (const name of ["alpha", "beta", "mode", "norm_coefficient"]) {
      if (!c.attr(name)) throw c.error(`the required attribute '${name}' is missing`);
    }
    const alpha = c.float("alpha", 0), beta = c.float("beta", 0);
    const norm = c.float("norm_coefficient", 0);
    const mode = c.string("mode", "standard");
    if (mode !== "standard" && mode !== "nesterov") throw c.error(`mode '${mode}'`);
    // The first update (T = 0) takes the whole gradient: beta counts from the second.
    const betaNow = c.out("SelectV2", [
      c.out("Greater", [t, c.scalar(0, t.dtype)]),
      c.scalar(beta, r.dtype),
      c.scalar(1, r.dtype),
    ]);
    const out = xs.map((x, i) => {
      const g = regularized(c, x, gs[i], norm);
      const v = c.out("AddV2", [
        c.out("Mul", [c.scalar(alpha, x.dtype), vs[i]]),
        c.out("Mul", [betaNow, g]),
      ]);
      const step = mode === "standard"
        ? v
        : c.out("AddV2", [g, c.out("Mul", [c.scalar(alpha, x.dtype), v])]);
      return [c.out("Sub", [x, c.out("Mul", [r, step])]), v];
    });
    return byOutput(out);
  },
  Adam: (c) => {
    const { r, t, of: [xs, gs, vs, hs] } = groupsOf(c, 4);
    const alpha = c.float("alpha", 0.9), beta = c.float("beta", 0.999);
    const eps = c.float("epsilon", 1e-6), norm = c.float("norm_coefficient", 0);
    const post = c.float("norm_coefficient_post", 0);
    // After the first update the rate is corrected for the moments' bias toward 0.
    const tf = countAs(c, t, r);
    const pow = (base: number) => c.out("Pow", [c.scalar(base, r.dtype), tf]);
    const one = c.scalar(1, r.dtype);
    const corrected = c.out("RealDiv", [
      c.out("Mul", [r, c.out("Sqrt", [c.out("Sub", [one, pow(beta)])])]),
      c.out("Sub", [one, pow(alpha)]),
    ]);
    const rate = c.out("SelectV2", [c.out("Greater", [t, c.scalar(0, t.dtype)]), corrected, r]);
    const out = xs.map((x, i) => {
      const g = regularized(c, x, gs[i], norm);
      const v = c.out("AddV2", [
        c.out("Mul", [c.scalar(alpha, x.dtype), vs[i]]),
        c.out("Mul", [c.scalar(1 - alpha, x.dtype), g]),
      ]);
      const h = c.out("AddV2", [
        c.out("Mul", [c.scalar(beta, x.dtype), hs[i]]),
        c.out("Mul", [c.scalar(1 - beta, x.dtype), c.out("Square", [g])]),
      ]);
      const root = c.out("AddV2", [c.out("Sqrt", [h]), c.scalar(eps, x.dtype)]);
      const stepped = c.out("Sub", [x, c.out("Mul", [rate, c.out("RealDiv", [v, root])])]);
      const xNew = post === 0 ? stepped : c.out("Mul", [c.scalar(1 - post, x.dtype), stepped]);
      return [xNew, v, h];
    });
    return byOutput(out);
  },
};

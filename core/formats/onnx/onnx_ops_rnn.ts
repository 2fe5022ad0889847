/**
 * ONNX's RNN, GRU and LSTM unrolled over their (static) sequence length: per direction, each
 * step is two MatMuls, the gate activations and the state update, and the per-step states are
 * stacked into Y. Layout 1 (batch first) is transposed in and out; sequence_lens must be a
 * constant equal to the sequence length for every batch entry (Edgeflow has no masking here).
 */
import type { Output } from "../../graph.ts";
import type { OnnxMapper, OnnxNodeContext } from "./onnx_context.ts";

const decoder = new TextDecoder();
const MAX_STEPS = 4096;

interface Step {
  /** The new hidden state (and cell state for LSTM) from x·Wᵀ (all gates) and the old states. */
  (xw: Output, h: Output, cell: Output | undefined, d: number): { h: Output; c?: Output };
}

type Activation = (x: Output) => Output;

function activations(c: OnnxNodeContext, defaults: string[], dirs: number): Activation[][] {
  const a = c.attr("activations");
  const names = a ? a.strings.map((s) => decoder.decode(s)) : [];
  const alphas = c.floats("activation_alpha") ?? [], betas = c.floats("activation_beta") ?? [];
  return Array.from({ length: dirs }, (_, d) =>
    defaults.map((dflt, k) => {
      const i = d * defaults.length + k;
      const name = names[i] ?? dflt;
      return (x: Output) => {
        switch (name) {
          case "Sigmoid":
          case "Tanh":
          case "Relu":
            return c.out(name, [x]);
          case "LeakyRelu":
            return c.out("LeakyRelu", [x], { alpha: alphas[i] ?? 0.01 });
          case "HardSigmoid": {
            const lin = c.out("AddV2", [
              c.out("Mul", [x, c.scalar(alphas[i] ?? 0.2, x.dtype)]),
              c.scalar(betas[i] ?? 0.5, x.dtype),
            ]);
            return c.out("Maximum", [
              c.scalar(0, x.dtype),
              c.out("Minimum", [c.scalar(1, x.dtype), lin]),
            ]);
          }
        }
        throw c.unsupported(`activation '${name}'`);
      };
    }));
}

/** Rows [from, from + n) of a 2-D tensor, or columns with `axis` 1. */
function part(c: OnnxNodeContext, x: Output, axis: number, from: number, n: number): Output {
  const begin = [0, 0], size = [-1, -1];
  begin[axis] = from;
  size[axis] = n;
  return c.out("Slice", [x, c.ints32(begin), c.ints32(size)]);
}

/** Direction d's slice of a [num_directions, ...] input, without its first dim. */
function ofDirection(c: OnnxNodeContext, x: Output, d: number): Output {
  const rank = c.rank(x);
  const begin = new Array(rank).fill(0), size = new Array(rank).fill(-1);
  begin[0] = d;
  size[0] = 1;
  return c.out("Squeeze", [c.out("Slice", [x, c.ints32(begin), c.ints32(size)])], {
    squeeze_dims: [0],
  });
}

interface Recurrence {
  /** Gates per step (RNN 1, GRU 3, LSTM 4). */
  gates: number;
  defaults: string[];
  hasCell: boolean;
  /** The step for direction d, given its R [gates·H, H], bias [2·gates·H] and activations. */
  step: (
    c: OnnxNodeContext,
    r: Output,
    bias: Output | undefined,
    act: Activation[],
    hidden: number,
    d: number,
  ) => Step;
}

function recurrent(spec: Recurrence): OnnxMapper {
  return (c) => {
    const layout = c.int("layout", 0);
    let x = c.req(0);
    if (layout === 1) x = c.out("Transpose", [x, c.ints32([1, 0, 2])]);
    const [seq, batch] = c.dims(x);
    // Each step is a dozen nodes: longer sequences are refused rather than unrolled.
    c.limit(seq, MAX_STEPS, "the sequence length (steps unrolled)");
    const hidden = c.int("hidden_size", 0) || c.dims(c.req(2))[2];
    const direction = c.string("direction", "forward");
    const dirs = direction === "bidirectional" ? 2 : 1;
    if (c.attr("clip")) throw c.unsupported("clip");
    if (c.int("input_forget", 0) !== 0) throw c.unsupported("input_forget");
    const lens = c.input(4);
    if (lens && c.constInts(4, "sequence_lens").some((l) => l !== seq)) {
      throw c.unsupported("sequence_lens shorter than the sequence (masked steps)");
    }
    const acts = activations(c, spec.defaults, dirs);
    const ys: Output[] = [], hs: Output[] = [], cs: Output[] = [];
    for (let d = 0; d < dirs; d++) {
      const w = ofDirection(c, c.req(1), d);
      const r = ofDirection(c, c.req(2), d);
      const b = c.input(3) && ofDirection(c, c.req(3), d);
      // x·Wᵀ for every step at once: [seq·batch, in] × [in, gates·H].
      const flat = c.out("Reshape", [x, c.ints32([seq * batch, -1])]);
      const xw = c.out("Reshape", [
        c.out("MatMul", [flat, w], { transpose_b: true }),
        c.ints32([seq, batch, spec.gates * hidden]),
      ]);
      const zeros = () => c.out("Fill", [c.ints32([batch, hidden]), c.scalar(0, x.dtype)]);
      let h = c.input(5) ? ofDirection(c, c.req(5), d) : zeros();
      let cell = spec.hasCell ? (c.input(6) ? ofDirection(c, c.req(6), d) : zeros()) : undefined;
      const step = spec.step(c, r, b, acts[d], hidden, d);
      const reverse = direction === "reverse" || d === 1;
      const outs: Output[] = new Array(seq);
      for (let i = 0; i < seq; i++) {
        const t = reverse ? seq - 1 - i : i;
        const xt = c.out("Squeeze", [
          c.out("Slice", [xw, c.ints32([t, 0, 0]), c.ints32([1, -1, -1])]),
        ], { squeeze_dims: [0] });
        const next = step(xt, h, cell, d);
        h = next.h;
        cell = next.c;
        outs[t] = h;
      }
      ys.push(c.out("Pack", [outs], { axis: 0 }));
      hs.push(h);
      if (cell) cs.push(cell);
    }
    // Y [seq, dirs, batch, H]; Y_h, Y_c [dirs, batch, H] (layout 1: batch first).
    let y = c.out("Pack", [ys], { axis: 1 });
    let yh = c.out("Pack", [hs], { axis: 0 });
    let yc = spec.hasCell ? c.out("Pack", [cs], { axis: 0 }) : undefined;
    if (layout === 1) {
      y = c.out("Transpose", [y, c.ints32([2, 0, 1, 3])]);
      yh = c.out("Transpose", [yh, c.ints32([1, 0, 2])]);
      if (yc) yc = c.out("Transpose", [yc, c.ints32([1, 0, 2])]);
    }
    return [y, yh, yc];
  };
}

/** Wb + Rb for gates [from, from + n) of a [2·gates·H] bias, or undefined without one. */
function biasOf(
  c: OnnxNodeContext,
  bias: Output | undefined,
  gates: number,
  hidden: number,
  from: number,
  n: number,
) {
  if (!bias) return undefined;
  const slice = (at: number) =>
    c.out("Slice", [bias, c.ints32([at * hidden]), c.ints32([n * hidden])]);
  return { w: slice(from), r: slice(gates + from) };
}

const rnn = recurrent({
  gates: 1,
  defaults: ["Tanh"],
  hasCell: false,
  step: (c, r, bias, act, hidden) => (xw, h) => {
    let v = c.out("AddV2", [xw, c.out("MatMul", [h, r], { transpose_b: true })]);
    const b = biasOf(c, bias, 1, hidden, 0, 1);
    if (b) v = c.out("AddV2", [v, c.out("AddV2", [b.w, b.r])]);
    return { h: act[0](v) };
  },
});

const gru = recurrent({
  gates: 3,
  defaults: ["Sigmoid", "Tanh"],
  hasCell: false,
  step: (c, r, bias, act, hidden) => (xw, h) => {
    const [f, g] = act;
    const gate = (k: number, x: Output) => part(c, x, 1, k * hidden, hidden);
    const zr = c.out("MatMul", [h, part(c, r, 0, 0, 2 * hidden)], { transpose_b: true });
    const bzr = biasOf(c, bias, 3, hidden, 0, 2);
    let pre = c.out("AddV2", [part(c, xw, 1, 0, 2 * hidden), zr]);
    if (bzr) pre = c.out("AddV2", [pre, c.out("AddV2", [bzr.w, bzr.r])]);
    const z = f(gate(0, pre)), rr = f(gate(1, pre));
    const rh = part(c, r, 0, 2 * hidden, hidden);
    const bh = biasOf(c, bias, 3, hidden, 2, 1);
    let hh: Output;
    if (c.int("linear_before_reset", 0) !== 0) {
      let hr = c.out("MatMul", [h, rh], { transpose_b: true });
      if (bh) hr = c.out("AddV2", [hr, bh.r]);
      hh = c.out("AddV2", [gate(2, xw), c.out("Mul", [rr, hr])]);
    } else {
      const hr = c.out("MatMul", [c.out("Mul", [rr, h]), rh], { transpose_b: true });
      hh = c.out("AddV2", [gate(2, xw), hr]);
      if (bh) hh = c.out("AddV2", [hh, c.out("AddV2", [bh.w, bh.r])]);
    }
    if (bh && c.int("linear_before_reset", 0) !== 0) hh = c.out("AddV2", [hh, bh.w]);
    const ht = g(hh);
    // (1 − z) ⊙ h̃ + z ⊙ h
    const keep = c.out("Mul", [z, h]);
    const take = c.out("Mul", [c.out("Sub", [c.scalar(1, h.dtype), z]), ht]);
    return { h: c.out("AddV2", [take, keep]) };
  },
});

const lstm = recurrent({
  gates: 4,
  defaults: ["Sigmoid", "Tanh", "Tanh"],
  hasCell: true,
  step: (c, r, bias, act, hidden, d) => {
    const p = c.input(7) ? ofDirection(c, c.req(7), d) : undefined;
    const peep = (k: number) =>
      p && c.out("Slice", [p, c.ints32([k * hidden]), c.ints32([hidden])]);
    const [f, g, hAct] = act;
    return (xw, h, cell) => {
      let pre = c.out("AddV2", [xw, c.out("MatMul", [h, r], { transpose_b: true })]);
      const b = biasOf(c, bias, 4, hidden, 0, 4);
      if (b) pre = c.out("AddV2", [pre, c.out("AddV2", [b.w, b.r])]);
      const gate = (k: number) => part(c, pre, 1, k * hidden, hidden);
      // ONNX's gate order: input, output, forget, cell; peepholes input, output, forget.
      const withPeep = (x: Output, k: number, state: Output) => {
        const pk = peep(k);
        return pk ? c.out("AddV2", [x, c.out("Mul", [pk, state])]) : x;
      };
      const i = f(withPeep(gate(0), 0, cell!));
      const fg = f(withPeep(gate(2), 2, cell!));
      const ct = g(gate(3));
      const next = c.out("AddV2", [c.out("Mul", [fg, cell!]), c.out("Mul", [i, ct])]);
      const o = f(withPeep(gate(1), 1, next));
      return { h: c.out("Mul", [o, hAct(next)]), c: next };
    };
  },
});

export const RNN_MAPPERS: Record<string, OnnxMapper> = { RNN: rnn, GRU: gru, LSTM: lstm };

// jax-js's side of bench/train.ts: `deno run -A bench/train_jax.ts` trains the bench's models
// (bench/train_models.ts) on jax-js's wasm backend as a JAX user writes it: one
// jit(valueAndGrad(loss)) step returning the new parameters (SGD for the MLP; Adam written out for
// the CNN, which jax-js runs in NCHW with lax.conv and reduceWindow max). Arrays are
// reference-counted (`.ref` keeps one alive across a call that consumes it).
import {
  defaultDevice,
  init,
  jit,
  lax,
  nn,
  numpy as np,
  valueAndGrad,
} from "npm:@jax-js/jax@0.1.25";
import { serveTrainers, type Trainer } from "./train_engine.ts";
import { batchOf, CNN, MLP, type ModelName, SHAPES, weights } from "./train_models.ts";

await init("wasm");
defaultDevice("wasm");

type A = np.Array;

/** NHWC [kh, kw, in, out] weights as jax-js's OIHW. */
function oihw(w: Float32Array<ArrayBuffer>, [kh, kw, cin, cout]: number[]): A {
  return np.array(w).reshape([kh, kw, cin, cout]).transpose([3, 2, 0, 1]);
}

function prepare(model: ModelName): Trainer {
  const b = batchOf(model);
  const x = model === "mlp"
    ? np.array(b.x).reshape(b.shape)
    : np.array(b.x).reshape(b.shape).transpose([0, 3, 1, 2]);
  const labels = nn.oneHot(np.array(b.y, { dtype: np.int32 }), 10);
  let params: A[] = SHAPES[model].map((s, i) =>
    s.length === 4 ? oihw(weights(s, i + 1), s) : np.array(weights(s, i + 1)).reshape(s)
  );
  const crossEntropy = (logits: A, y: A) => nn.logSoftmax(logits, -1).mul(y).sum(-1).mean().neg();
  const loss = (p: A[], xs: A, y: A): A => {
    if (model === "mlp") {
      const h = nn.relu(np.matmul(xs, p[0]).add(p[1]));
      return crossEntropy(np.matmul(h, p[2]).add(p[3]), y);
    }
    const conv = (h: A, w: A, bias: A) =>
      nn.relu(lax.conv(h, w, [1, 1], "SAME").add(bias.reshape([1, -1, 1, 1])));
    let h = conv(conv(xs, p[0], p[1]), p[2], p[3]);
    h = lax.reduceWindow(h, (w: A) => w.max(), [2, 2], [2, 2]);
    // NCHW flattened as NHWC, so the dense weights mean what they mean in the other runners.
    const flat = h.transpose([0, 2, 3, 1]).reshape([CNN.batch, 512]);
    const d = nn.relu(np.matmul(flat, p[4]).add(p[5]));
    return crossEntropy(np.matmul(d, p[6]).add(p[7]), y);
  };
  const grads = valueAndGrad(loss);
  if (model === "mlp") {
    const step = jit((p: A[], xs: A, y: A) => {
      const [l, g] = grads(p.map((a) => a.ref), xs, y);
      return [l, p.map((a, i) => a.sub(g[i].mul(MLP.lr)))] as [A, A[]];
    });
    return {
      async step() {
        const [l, next] = step(params, x.ref, labels.ref);
        params = next;
        await l.data();
      },
    };
  }
  // Adam as optax and TensorFlow: m, v, and the step count's bias corrections.
  let m = params.map((p) => np.zerosLike(p.ref));
  let v = params.map((p) => np.zerosLike(p.ref));
  let t = 0;
  const adam = jit((p: A[], ms: A[], vs: A[], xs: A, y: A, c1: A, c2: A) => {
    const [l, g] = grads(p.map((a) => a.ref), xs, y);
    const nm = ms.map((a, i) => a.mul(0.9).add(g[i].ref.mul(0.1)));
    const nv = vs.map((a, i) => a.mul(0.999).add(g[i].ref.mul(g[i]).mul(0.001)));
    const np2 = p.map((a, i) =>
      a.sub(nm[i].ref.mul(c1.ref).div(np.sqrt(nv[i].ref.mul(c2.ref)).add(1e-8)))
    );
    c1.dispose();
    c2.dispose();
    return [l, np2, nm, nv] as [A, A[], A[], A[]];
  });
  return {
    async step() {
      t++;
      const c1 = np.array([CNN.lr / (1 - 0.9 ** t)]).reshape([]);
      const c2 = np.array([1 / (1 - 0.999 ** t)]).reshape([]);
      const [l, p2, m2, v2] = adam(params, m, v, x.ref, labels.ref, c1, c2);
      params = p2;
      m = m2;
      v = v2;
      await l.data();
    },
  };
}

await serveTrainers(prepare);

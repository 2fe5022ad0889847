// Open registries: a user's op (defineOp) registered in an OpRegistry, given kernels with
// KernelRegistry.addKernel, imported from a GraphDef and run in a session, on a device type core
// has never heard of.
import assert from "node:assert/strict";
import * as ef from "../mod.ts";
import { HostBuffer } from "../core/buffer.ts";

type ScaleAttrs = { T: ef.DType; factor: number };
const Scale = ef.defineOp<ScaleAttrs>({
  name: "MyScale",
  inputs: [{ name: "x", type: "T" }],
  outputs: [{ name: "y", type: "T" }],
  attrs: { T: { kind: "type", allowed: ["float32"] }, factor: { kind: "float", default: 2 } },
  infer: ([x]) => [{ dtype: x.dtype, shape: x.shape }],
  reference: ([x], { factor }) => [
    ef.Tensor.fromNumbers(x.dtype, x.shape, x.toNumbers().map((v) => v * factor)),
  ],
});

/** A device of a new type: buffers are host tensors, like REF's. */
class HostDevice implements ef.Device {
  readonly type = "MYHOST";
  readonly name = ef.fullDeviceName("MYHOST", 0);
  readonly performance = { flops: 1e8, bandwidth: 1e9, transfer: 1e11, launch: 1e-6 };
  allocate(spec: ef.BufferSpec) {
    return new HostBuffer(ef.Tensor.zeros(spec.dtype, spec.shape), this);
  }
  free() {}
  upload(t: ef.Tensor) {
    return new HostBuffer(t, this);
  }
  download(b: ef.DeviceBuffer) {
    return Promise.resolve((b as HostBuffer).tensor);
  }
  run(kernel: ef.KernelInstance, ctx: ef.KernelContext) {
    return kernel.run(ctx);
  }
  memory() {
    return { inUse: 0, peak: 0 };
  }
  [Symbol.asyncDispose]() {
    return Promise.resolve();
  }
}

Deno.test("a user's op and device type run in a session, imported from a GraphDef", async () => {
  const ops = new ef.OpRegistry(ef.ALL_OPS).register(Scale);
  assert.throws(() => ops.register({ ...Scale }), /an op named MyScale is registered already/);
  const registry = new ef.KernelRegistry().install(ef.refPlugin).install({
    type: "MYHOST",
    create: () => Promise.resolve(new HostDevice()),
    kernels: [],
  });
  let runs = 0;
  registry.addKernel(
    "MYHOST",
    ef.defineKernel(Scale, {
      create({ attrs }) {
        const factor = attrs.factor; // resolved once per node
        return {
          run(ctx) {
            runs++;
            const x = (ctx.inputs[0] as HostBuffer).tensor;
            const y = x.toNumbers().map((v) => v * factor);
            ctx.setOutput(0, ctx.device.upload(ef.Tensor.fromNumbers("float32", x.shape, y)));
          },
        };
      },
    }),
  );
  const g = ef.fromGraphDef(
    {
      node: [
        { name: "x", op: "Placeholder", attr: { dtype: { type: "DT_FLOAT" } } },
        {
          name: "s",
          op: "MyScale",
          input: ["x"],
          device: "/device:MYHOST:0",
          attr: { T: { type: "DT_FLOAT" }, factor: { f: 3 } },
        },
      ],
    },
    new ef.Graph(),
    ops,
  );
  await using s = new ef.Session(g, { registry, device: "MYHOST" });
  const y = await s.run("s:0", { "x:0": ef.tensor([1, 2, 3]) });
  assert.deepEqual(y.toArray(), [3, 6, 9]);
  assert.equal(runs, 1);
  assert.deepEqual(ef.parseDeviceSpec("/device:MYHOST:1"), { type: "MYHOST", index: 1 });
  assert.equal(ef.parseDeviceSpec("/device:GPU:0").type, "WEBGPU");
  assert.throws(() => ef.fromGraphDef({ node: [{ name: "s", op: "MyScale" }] }), /unknown op/);
});

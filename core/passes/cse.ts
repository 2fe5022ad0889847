/**
 * Common-subexpression elimination: two stateless nodes with the same op, attrs, inputs, control
 * inputs and requested device compute the same value, so the copy keeps one. Small constants are
 * compared by value, large ones by identity (MAX_HASHED_BYTES), so CSE's work is bounded.
 */
import { byteSize } from "../dtype.ts";
import type { Node } from "../graph.ts";
import type { AttrValue } from "../op.ts";
import { Tensor } from "../tensor.ts";
import { copyNode, copyNodes, newGraphLike } from "./copy.ts";
import type { PassInput, PassResult } from "./pass.ts";

export function eliminateCommonSubexpressions(input: PassInput): PassResult {
  const seen = new Map<string, Node[]>();
  const copy = copyNodes(
    input.nodes,
    newGraphLike(input.graph),
    input.bound,
    (node, inputs, control, target) => {
      // Stateful ops and sources other than Const (placeholders) are distinct by nature.
      // Control-flow nodes are distinct too: a loop's Merge is copied before its back edge.
      if (
        node.op.stateful || node.op.controlFlow ||
        (node.inputs.length === 0 && node.op.name !== "Const")
      ) return undefined;
      const key = [
        node.op.name,
        node.requestedDevice,
        inputs.map((o) => o.name).join(","),
        control.map((c) => c.name).join(","),
        attrsKey(node.attrs),
      ].join("|");
      const candidates = seen.get(key) ?? [];
      const same = candidates.find((c) => attrsEqual(c.attrs, node.attrs));
      if (same) return [...same.outputs];
      // Not merged: copy it now so later duplicates can find it.
      const created = copyNode(node, inputs, control, target);
      seen.set(key, [...candidates, created]);
      return [...created.outputs];
    },
  );
  return { graph: copy.graph, map: copy.map, mapNode: copy.mapNode };
}

function attrsKey(attrs: Record<string, AttrValue>): string {
  return Object.keys(attrs).sort().map((k) => `${k}=${valueKey(attrs[k])}`).join(";");
}

/**
 * Tensors of more bytes than this are keyed and compared by identity (the same storage object),
 * never read: hashing every byte of a 4 GiB Const made a first run take 99 s. Not merging two
 * equal large constants that are separate objects costs only memory; reading them costs time
 * on every plan build.
 */
export const MAX_HASHED_BYTES = 1 << 20;

function valueKey(v: AttrValue): string {
  if (v instanceof Tensor) {
    const id = isLarge(v) ? `@${storageId(v)}` : `#${hashTensor(v)}`;
    return `${v.dtype}[${v.shape}]${id}`;
  }
  return JSON.stringify(v);
}

function isLarge(t: Tensor): boolean {
  return t.size * byteSize(t.dtype) > MAX_HASHED_BYTES;
}

const storageIds = new WeakMap<object, number>();
let nextStorageId = 0;
function storageId(t: Tensor): number {
  let id = storageIds.get(t.data);
  if (id === undefined) storageIds.set(t.data, id = nextStorageId++);
  return id;
}

/** Bytes of a tensor `hashTensor` reads at most: evenly spaced samples beyond this. */
const HASHED_SAMPLES = 1024;

/**
 * FNV-1a over the tensor's strings, or over its byte length and at most HASHED_SAMPLES of its
 * bytes, evenly spaced: a key only, which attrsEqual confirms in full before merging, so that
 * equal samples of unequal tensors cost a comparison, never a wrong merge. Hashing every byte of
 * a served model's weights (mobilenet_v2_mid: 16 MiB of Consts) was 14 ms of its plan build.
 */
function hashTensor(t: Tensor): number {
  let h = 0x811c9dc5;
  if (t.dtype === "variant") return storageId(t);
  if (Array.isArray(t.data)) {
    for (const s of t.data as string[]) {
      for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    }
    return h >>> 0;
  }
  const d = t.data as ArrayBufferView;
  const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  h = Math.imul(h ^ bytes.length, 0x01000193);
  const step = Math.max(1, Math.floor(bytes.length / HASHED_SAMPLES));
  for (let i = 0; i < bytes.length; i += step) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

function attrsEqual(a: Record<string, AttrValue>, b: Record<string, AttrValue>): boolean {
  return Object.keys(a).every((k) => {
    const x = a[k], y = b[k];
    if (x instanceof Tensor && y instanceof Tensor) return tensorsEqual(x, y);
    return JSON.stringify(x) === JSON.stringify(y);
  });
}

function tensorsEqual(a: Tensor, b: Tensor): boolean {
  if (
    a.dtype !== b.dtype || a.shape.length !== b.shape.length ||
    a.shape.some((d, i) => d !== b.shape[i])
  ) return false;
  if (isLarge(a)) return a.data === b.data;
  const x = a.data as ArrayLike<unknown>, y = b.data as ArrayLike<unknown>;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  return true;
}

/**
 * Attributes TensorFlow or a converter writes on ops whose Edgeflow definition lacks them, where
 * the value given changes nothing in the op's meaning: accepted and dropped on import. Each entry
 * says which values are harmless; any other value is refused with the reason, since it would
 * change what the op computes (an explicit padding, a dilation, incompatible shapes giving false).
 */
import type { AttrKind, AttrValue } from "../op.ts";

interface HarmlessAttr {
  kind: AttrKind;
  /** Why the attr may be dropped; shown when a value is refused. */
  why: string;
  /** Whether this value changes nothing. */
  harmless(value: AttrValue): boolean;
}

const ones = (v: AttrValue) => Array.isArray(v) && v.every((d) => d === 1);

export const HARMLESS_ATTRS: Readonly<Record<string, HarmlessAttr>> = {
  use_cudnn_on_gpu: {
    kind: "bool",
    why: "it chooses a GPU library, not a result",
    harmless: () => true,
  },
  explicit_paddings: {
    kind: "list(int)",
    why: "only padding EXPLICIT reads it; it must be empty",
    harmless: (v) => Array.isArray(v) && v.length === 0,
  },
  dilations: {
    kind: "list(int)",
    why: "a dilation other than 1 changes the window; it must be all ones",
    harmless: ones,
  },
  validate_indices: {
    kind: "bool",
    why: "TensorFlow ignores it (indices are always validated on CPU)",
    harmless: () => true,
  },
  incompatible_shape_error: {
    kind: "bool",
    why: "false makes incompatible shapes compare unequal instead of failing; it must be true",
    harmless: (v) => v === true,
  },
};

/**
 * Protobuf wire access for the formats: @bufbuild/protobuf's BinaryReader and BinaryWriter do
 * every varint, tag and length; this file adds what a model loader needs on top — a field loop
 * that checks wire types, packed-or-not repeated scalars, a nesting limit, and errors that name
 * the file and the field path instead of the library's bare "premature EOF".
 *
 * The specifier is a full npm: one (not a bare name mapped in deno.json) so that a script importing
 * Edgeflow from a URL, which has no import map of ours, resolves it too.
 */
// deno-lint-ignore no-import-prefix -- a URL importer has no import map of ours (see above)
import { BinaryReader, BinaryWriter, WireType } from "npm:@bufbuild/protobuf@2/wire";
import { EdgeflowError } from "../../errors.ts";

export { BinaryReader, BinaryWriter, WireType };
/** The two wire types most fields use, short enough to read inline in a codec. */
export const LEN = WireType.LengthDelimited;
export const VARINT = WireType.Varint;

const WIRE_NAMES = ["varint", "64-bit", "length-delimited", "start-group", "end-group", "32-bit"];

/** Where a decode is: the file it reads (for messages) and how deep messages nest. */
export interface DecodeScope {
  readonly file: string;
  /** Messages nest at most this deep (AttrValue → NameAttrList → AttrValue recurses). */
  readonly maxDepth: number;
  /**
   * Tensor contents as bytes the importer adopts (`ownedContent`) instead of base64: set where the
   * result goes straight to `fromGraphDef`, so a weight exists once while a .pb loads.
   */
  readonly rawContent?: boolean;
}

/** Calls `visit` once per field of the message in `bytes`; `visit` must consume the value. */
export function readMessage(
  scope: DecodeScope,
  bytes: Uint8Array,
  path: string,
  depth: number,
  schema: Readonly<Record<string, number>>,
  visit: (field: number, wire: WireType, r: BinaryReader, path: string) => void,
): void {
  if (depth > scope.maxDepth) {
    throw corrupt(scope, path, `messages nest deeper than ${scope.maxDepth}`);
  }
  const r = new BinaryReader(bytes);
  let field = 0;
  let start = 0;
  try {
    while (r.pos < r.len) {
      start = r.pos;
      field = 0;
      const [number, wire] = r.tag();
      field = number;
      visit(number, wire, r, path);
    }
  } catch (e) {
    if (e instanceof EdgeflowError) throw e;
    // Name the field whose value broke off (the library only says "premature EOF").
    const name = Object.entries(schema).find(([, n]) => n === field)?.[0] ??
      (field ? `field ${field}` : "a tag");
    const where = `${path ? `${path}.` : ""}${name} (at byte ${start})`;
    throw corrupt(scope, where, e instanceof Error ? e.message : String(e));
  }
}

export function corrupt(scope: DecodeScope, path: string, why: string): EdgeflowError {
  return new EdgeflowError(
    `${scope.file}: ${path || "the message"} is truncated or corrupt: ${why}`,
  );
}

/** Refuses a field whose wire type is not the schema's (a sign of a corrupt or foreign file). */
export function expectWire(
  scope: DecodeScope,
  path: string,
  got: WireType,
  want: WireType,
): void {
  if (got !== want) {
    throw corrupt(scope, path, `wire type ${WIRE_NAMES[got]}, the schema says ${WIRE_NAMES[want]}`);
  }
}

/**
 * Reads one occurrence of a repeated scalar field: a packed run (length-delimited) or a single
 * element; parsers must accept both encodings whatever the schema's `packed` option says.
 */
export function readRepeated<T>(
  scope: DecodeScope,
  path: string,
  wire: WireType,
  elementWire: WireType,
  r: BinaryReader,
  read: (r: BinaryReader) => T,
  out: T[],
): void {
  if (wire === WireType.LengthDelimited) {
    const run = new BinaryReader(r.bytes());
    while (run.pos < run.len) out.push(read(run));
    return;
  }
  expectWire(scope, path, wire, elementWire);
  out.push(read(r));
}

/** Writes a packed repeated scalar field; nothing when the list is empty (proto3's default). */
export function writePacked<T>(
  w: BinaryWriter,
  field: number,
  values: readonly T[],
  write: (w: BinaryWriter, v: T) => void,
): void {
  if (values.length === 0) return;
  w.tag(field, WireType.LengthDelimited).fork();
  for (const v of values) write(w, v);
  w.join();
}

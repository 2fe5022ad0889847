// A tfjs-converter graph model loaded from a model.json on disk with its weight shards (tfjs's
// own file loaders need a browser or Node's fs), for the benches and tests that run a real model
// on tfjs. The signature is the model.json's own, else the one the converter put in
// userDefinedMetadata (nsfwjs, human's blazeface and emotion carry only that one).
import * as tfconv from "npm:@tensorflow/tfjs-converter@4";

export async function loadTfjsGraphModel(path: string): Promise<tfconv.GraphModel> {
  const json = JSON.parse(await Deno.readTextFile(path));
  const dir = path.slice(0, path.lastIndexOf("/") + 1);
  const shards = await Promise.all(
    json.weightsManifest.flatMap((g: { paths: string[] }) => g.paths).map((p: string) =>
      Deno.readFile(dir + p)
    ),
  );
  const all = new Uint8Array(shards.reduce((n: number, s: Uint8Array) => n + s.length, 0));
  shards.reduce((at: number, s: Uint8Array) => (all.set(s, at), at + s.length), 0);
  return await tfconv.loadGraphModel({
    load: () =>
      Promise.resolve({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
        weightData: all.buffer,
        format: json.format,
        signature: json.signature ?? json.userDefinedMetadata?.signature,
      }),
  } as never);
}

/**
 * Formats that need the protobuf library (npm:@bufbuild/protobuf): binary GraphDef (.pb) read and
 * write. A separate entry point, so that importing mod.ts (a script, an edge function, a URL
 * import) fetches nothing but Edgeflow; `import * as pb from ".../formats.ts"` where a .pb is read.
 */
export {
  fromGraphDefBinary,
  type GraphDefBinaryOptions,
  loadGraphDef,
  type LoadGraphDefOptions,
  toGraphDefBinary,
} from "./core/formats/protobuf/graphdef_binary.ts";
export {
  fromOnnxBinary,
  loadOnnxModel,
  type OnnxModel,
  type OnnxModelOptions,
} from "./core/formats/onnx/onnx_model.ts";
export { EXPORT_OPSET, type OnnxExportOptions, toOnnx } from "./core/formats/onnx/onnx_export.ts";
export {
  type GraphModelExportOptions,
  saveGraphModel,
  toGraphModel,
} from "./core/formats/tfjs/export.ts";
export { releaseWeights } from "./core/formats/device_weights.ts";

/**
 * TensorBoard summaries (event files) and their pieces. A separate entry point, like formats.ts:
 * the event protobufs use npm:@bufbuild/protobuf, and importing mod.ts fetches nothing.
 *
 *   import { SummaryWriter } from ".../summary.ts";
 *   const writer = await SummaryWriter.create("logs/run1");
 *   writer.scalar("loss", 0.5, step);
 */
export {
  type ImageOptions,
  SummaryWriter,
  type SummaryWriterOptions,
} from "./core/summary/writer.ts";
export { histogramOf } from "./core/summary/histogram.ts";
export { writeVariableHistograms } from "./core/summary/variables.ts";
export { encodePng } from "./core/summary/png.ts";
export { crc32c, maskedCrc32c } from "./core/summary/crc32c.ts";

/**
 * The subset of TensorFlow's event and summary schema Edgeflow writes, as field numbers
 * (tensorflow/core/util/event.proto, tensorflow/core/framework/summary.proto, histogram in
 * summary.proto, tensor.proto, tensor_shape.proto). Facts only: the codec is event_encode.ts.
 */
export const EVENT = { wallTime: 1, step: 2, fileVersion: 3, graphDef: 4, summary: 5 } as const;
export const SUMMARY = { value: 1 } as const;
export const SUMMARY_VALUE = {
  tag: 1,
  simpleValue: 2,
  image: 4,
  histo: 5,
  tensor: 8,
  metadata: 9,
} as const;
export const SUMMARY_IMAGE = { height: 1, width: 2, colorspace: 3, encodedImageString: 4 } as const;
export const HISTOGRAM = {
  min: 1,
  max: 2,
  num: 3,
  sum: 4,
  sumSquares: 5,
  bucketLimit: 6,
  bucket: 7,
} as const;
export const SUMMARY_METADATA = { pluginData: 1, displayName: 2, summaryDescription: 3 } as const;
export const PLUGIN_DATA = { pluginName: 1, content: 2 } as const;
export const TENSOR = { dtype: 1, tensorShape: 2, stringVal: 8 } as const;
/** types.proto's DataType DT_STRING. */
export const DT_STRING = 7;
/** What the first event of a file says (TensorFlow's EventsWriter). */
export const FILE_VERSION = "brain.Event:2";

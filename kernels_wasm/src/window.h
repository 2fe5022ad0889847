// The geometry of a 2-D sliding window over an NHWC image, resolved by core/ops/conv_geometry.ts
// and passed as 14 argument words in this order (Conv2D, DepthwiseConv2dNative, pools).
#pragma once

typedef struct {
  int batch, in_h, in_w, in_c;
  int filter_h, filter_w;
  int out_h, out_w;
  int stride_h, stride_w, dilation_h, dilation_w;
  int pad_top, pad_left;
} ConvGeom;

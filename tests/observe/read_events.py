"""Parses an event file with Google's protobuf library (Debian's python3-protobuf), as a reader
independent of Edgeflow's writer and of the board's reader: the Event/Summary schema subset is
declared here as a FileDescriptorProto with TensorFlow's field numbers and types, the TFRecord
framing is checked (masked CRC-32C of length and data), and the events are printed as JSON."""
import json
import struct
import sys
import zlib

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

F = descriptor_pb2.FieldDescriptorProto
OPT, REP = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def message(file, name, fields):
    m = file.message_type.add(name=name)
    for number, fname, ftype, label, type_name in fields:
        f = m.field.add(name=fname, number=number, type=ftype, label=label)
        if type_name:
            f.type_name = type_name
        if ftype == F.TYPE_DOUBLE and label == REP:
            f.options.packed = True


def schema():
    file = descriptor_pb2.FileDescriptorProto(name="events.proto", package="tf", syntax="proto3")
    message(file, "PluginData", [(1, "plugin_name", F.TYPE_STRING, OPT, None),
                                 (2, "content", F.TYPE_BYTES, OPT, None)])
    message(file, "SummaryMetadata", [(1, "plugin_data", F.TYPE_MESSAGE, OPT, ".tf.PluginData")])
    message(file, "Dim", [(1, "size", F.TYPE_INT64, OPT, None)])
    message(file, "TensorShapeProto", [(2, "dim", F.TYPE_MESSAGE, REP, ".tf.Dim")])
    message(file, "TensorProto", [(1, "dtype", F.TYPE_INT32, OPT, None),
                                  (2, "tensor_shape", F.TYPE_MESSAGE, OPT, ".tf.TensorShapeProto"),
                                  (8, "string_val", F.TYPE_BYTES, REP, None)])
    message(file, "HistogramProto", [(1, "min", F.TYPE_DOUBLE, OPT, None),
                                     (2, "max", F.TYPE_DOUBLE, OPT, None),
                                     (3, "num", F.TYPE_DOUBLE, OPT, None),
                                     (4, "sum", F.TYPE_DOUBLE, OPT, None),
                                     (5, "sum_squares", F.TYPE_DOUBLE, OPT, None),
                                     (6, "bucket_limit", F.TYPE_DOUBLE, REP, None),
                                     (7, "bucket", F.TYPE_DOUBLE, REP, None)])
    message(file, "Image", [(1, "height", F.TYPE_INT32, OPT, None),
                            (2, "width", F.TYPE_INT32, OPT, None),
                            (3, "colorspace", F.TYPE_INT32, OPT, None),
                            (4, "encoded_image_string", F.TYPE_BYTES, OPT, None)])
    message(file, "Value", [(1, "tag", F.TYPE_STRING, OPT, None),
                            (2, "simple_value", F.TYPE_FLOAT, OPT, None),
                            (4, "image", F.TYPE_MESSAGE, OPT, ".tf.Image"),
                            (5, "histo", F.TYPE_MESSAGE, OPT, ".tf.HistogramProto"),
                            (8, "tensor", F.TYPE_MESSAGE, OPT, ".tf.TensorProto"),
                            (9, "metadata", F.TYPE_MESSAGE, OPT, ".tf.SummaryMetadata")])
    message(file, "Summary", [(1, "value", F.TYPE_MESSAGE, REP, ".tf.Value")])
    message(file, "NodeDef", [(1, "name", F.TYPE_STRING, OPT, None),
                              (2, "op", F.TYPE_STRING, OPT, None),
                              (3, "input", F.TYPE_STRING, REP, None),
                              (4, "device", F.TYPE_STRING, OPT, None)])
    message(file, "GraphDef", [(1, "node", F.TYPE_MESSAGE, REP, ".tf.NodeDef")])
    message(file, "Event", [(1, "wall_time", F.TYPE_DOUBLE, OPT, None),
                            (2, "step", F.TYPE_INT64, OPT, None),
                            (3, "file_version", F.TYPE_STRING, OPT, None),
                            (4, "graph_def", F.TYPE_BYTES, OPT, None),
                            (5, "summary", F.TYPE_MESSAGE, OPT, ".tf.Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    get = getattr(message_factory, "GetMessageClass", None)
    factory = None if get else message_factory.MessageFactory(pool)
    cls = lambda n: (get or factory.GetPrototype)(pool.FindMessageTypeByName(f"tf.{n}"))
    return cls("Event"), cls("GraphDef")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def check_png(png, width, height, channels):
    """Every chunk's CRC-32 by zlib, the image data inflated by zlib to the expected size."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    at, idat = 8, b""
    while at < len(png):
        (length,) = struct.unpack_from(">I", png, at)
        kind = png[at + 4:at + 8]
        body = png[at + 8:at + 8 + length]
        assert struct.unpack_from(">I", png, at + 8 + length)[0] == zlib.crc32(kind + body), kind
        if kind == b"IHDR":
            assert struct.unpack_from(">II", body) == (width, height), "IHDR size"
        if kind == b"IDAT":
            idat += body
        at += 12 + length
    return len(zlib.decompress(idat)) == (width * channels + 1) * height


def main(path):
    Event, GraphDef = schema()
    data = open(path, "rb").read()
    at, out = 0, []
    while at < len(data):
        (length,) = struct.unpack_from("<Q", data, at)
        assert struct.unpack_from("<I", data, at + 8)[0] == crc32c(data[at:at + 8]), "length CRC"
        record = data[at + 12:at + 12 + length]
        assert struct.unpack_from("<I", data, at + 12 + length)[0] == crc32c(record), "data CRC"
        event = Event()
        event.ParseFromString(record)
        d = json_format.MessageToDict(event, preserving_proto_field_name=True)
        for v in event.summary.value:
            if v.HasField("image"):
                im = v.image
                d.setdefault("png_ok", []).append(
                    check_png(im.encoded_image_string, im.width, im.height, im.colorspace))
        if event.graph_def:
            g = GraphDef()
            g.ParseFromString(event.graph_def)
            d["graph_def"] = [[n.name, n.op, list(n.input), n.device] for n in g.node]
        out.append(d)
        at += 12 + length + 4
    print(json.dumps(out))


main(sys.argv[1])

"""Read an ONNX file's graph without its weights: a walk over the protobuf wire format.

``onnx.load`` turns every initializer's bytes into a message, so the time and memory of reading a
model grow with its weights (VGG-19: 575 MB read, about 1.1 GB at the peak), although the costs
need only their dims and data type. Here the file is memory-mapped and walked field by field
(https://protobuf.dev/programming-guides/encoding/: a tag varint ``field << 3 | wire type``, then
a varint, 8 or 4 bytes, or a length varint and that many bytes); a large initializer's payload
fields (``raw_data``, ``float_data``...) are skipped by their length prefix without being read,
and a small copy of the model is assembled from the byte ranges that matter: every field but the
graph's initializers copied as it is, each initializer with its name, dims, data type and
external-data fields, and its values too when they are small (shape constants that folding
needs). protobuf then parses that copy, so only the walk itself is hand-written.

Field numbers are those of onnx/onnx.proto (ModelProto.graph = 7, GraphProto.initializer = 5,
TensorProto dims = 1, data_type = 2, raw_data = 9, external_data = 13, data_location = 14...).
"""
import mmap
import os

from edgeprof.protowire import LEN, VARINT, WireError, encode_varint, fields, read_varint  # noqa: F401

MODEL_GRAPH = 7
GRAPH_INITIALIZER = 5
TENSOR_DIMS, TENSOR_DATA_TYPE, TENSOR_DATA_LOCATION = 1, 2, 14
# TensorProto fields kept in a light initializer: dims, data_type, segment, name,
# external_data, data_location, metadata_props. Dropped: the values (float_data 4, int32_data 5,
# string_data 6, int64_data 7, raw_data 9, double_data 10, uint64_data 11) and doc_string 12.
_TENSOR_HEADER_FIELDS = frozenset((1, 2, 3, 8, 13, 14, 16))
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL


def _ints(buf, wire_type, start, end):
    """The int64 values of one occurrence of a repeated integer field (packed or not)."""
    if wire_type == VARINT:
        return [_signed(read_varint(buf, start, end)[0])]
    values, pos = [], start
    while pos < end:
        value, pos = read_varint(buf, pos, end)
        values.append(_signed(value))
    return values


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def length_field(number, payload):
    return encode_varint(number << 3 | LEN) + encode_varint(len(payload)) + payload


class _Tensor:
    """What the walk learns of one TensorProto: its header byte ranges and what decides its fate."""

    def __init__(self, buf, start, end):
        self.dims, self.data_type, self.location, self.payload_bytes = [], 0, 0, 0
        self.header = []
        for number, wire_type, tag_start, value_start, value_end in fields(buf, start, end):
            if number in _TENSOR_HEADER_FIELDS:
                self.header.append((tag_start, value_end))
            else:
                self.payload_bytes += value_end - value_start
            if number == TENSOR_DIMS and wire_type in (VARINT, LEN):
                self.dims.extend(_ints(buf, wire_type, value_start, value_end))
            elif number == TENSOR_DATA_TYPE and wire_type == VARINT:
                self.data_type = read_varint(buf, value_start, value_end)[0]
            elif number == TENSOR_DATA_LOCATION and wire_type == VARINT:
                self.location = read_varint(buf, value_start, value_end)[0]

    def nbytes(self, bits_per_element):
        """Bytes of its values from dims and type; the stored payload size when the type has no width."""
        bits = bits_per_element.get(self.data_type, 0)
        if not bits:
            return self.payload_bytes
        count = 1
        for dim in self.dims:
            count *= dim
        return (count * bits + 7) // 8


def _light_graph(buf, start, end, keep_values_bytes, bits_per_element):
    """A GraphProto's bytes with the values of its large initializers left out."""
    parts = []
    for number, wire_type, tag_start, value_start, value_end in fields(buf, start, end):
        if number != GRAPH_INITIALIZER or wire_type != LEN:
            parts.append(buf[tag_start:value_end])
            continue
        tensor = _Tensor(buf, value_start, value_end)
        if tensor.location != _EXTERNAL and tensor.nbytes(bits_per_element) <= keep_values_bytes:
            parts.append(buf[tag_start:value_end])
        else:
            header = b"".join(buf[a:b] for a, b in tensor.header)
            parts.append(length_field(GRAPH_INITIALIZER, header))
    return b"".join(parts)


def light_model_bytes(buf, keep_values_bytes, bits_per_element):
    """A serialized ModelProto equal to ``buf``'s except for the values of large initializers.

    Args:
        buf: the file's bytes (bytes or an mmap).
        keep_values_bytes (int): initializers of at most this many bytes (from their dims and data
            type) keep their values; larger ones, and those in external data, keep only their
            name, dims, data type and external-data fields.
        bits_per_element (dict): ONNX data type code -> bits per element.
    """
    parts = []
    for number, wire_type, tag_start, value_start, value_end in fields(buf, 0, len(buf)):
        if number == MODEL_GRAPH and wire_type == LEN:
            graph = _light_graph(buf, value_start, value_end, keep_values_bytes, bits_per_element)
            parts.append(length_field(MODEL_GRAPH, graph))
        else:
            parts.append(buf[tag_start:value_end])
    return b"".join(parts)


def load_light(path, keep_values_bytes, bits_per_element):
    """The ModelProto of ``path`` without the values of its large initializers.

    The file is memory-mapped, so only the pages holding tags and small fields are read from
    the disk; external data files are not opened. Raises WireError for bytes that are not a
    well-formed message (protobuf's own parser then checks the light copy).
    """
    import onnx
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return onnx.ModelProto()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            # No read-ahead into the payloads the walk jumps over (madvise: Python >= 3.8, Linux).
            advise, random_access = getattr(buf, "madvise", None), getattr(mmap, "MADV_RANDOM", None)
            if advise is not None and random_access is not None:
                advise(random_access)
            light = light_model_bytes(buf, keep_values_bytes, bits_per_element)
    model = onnx.ModelProto()
    model.ParseFromString(light)
    return model

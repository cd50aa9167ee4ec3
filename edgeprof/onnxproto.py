"""An ONNX model read into plain Python objects, straight from the protobuf wire format: no onnx.

Used by :mod:`edgeprof.costs` (static costs) and by the agent's :mod:`edgeprof.agent.backends.ort_graph`
(which precision a file computes in, which MatMuls read a weight): stdlib only, numpy for
``Tensor.to_array``.

``import onnx`` alone takes 0.7-1.1 s on the workstations here (most of it in ml_dtypes' extension),
longer than the rest of ``inspect`` on a 575 MB VGG-19, and the agent's boards have no onnx at all.
The costs need only the graph: nodes with their attributes, the graph inputs and outputs with their
shapes, and the initializers' names, dims and data types (the values only of small ones, the shape
constants folding reads). This module walks the file's fields with :mod:`edgeprof.protowire`
(memory-mapped, so the pages of skipped weight payloads are never read) into objects that carry the
same attribute names as onnx's messages (``model.graph.node[i].op_type``, ``tensor.dims``...), so the
counting rules read either.

Field numbers and types are those of onnx/onnx.proto (onnx v1.17.0; unchanged since v1.10 for every
field read here): ModelProto ir_version 1, opset_import 8, graph 7, functions 25; OperatorSetIdProto
domain 1, version 2; GraphProto node 1, initializer 5, input 11, output 12, sparse_initializer 15 (SparseTensorProto values 1); NodeProto input 1,
output 2, name 3, op_type 4, attribute 5, domain 7; AttributeProto name 1, f 2, i 3, s 4, t 5, g 6,
floats 7, ints 8, strings 9, tensors 10, graphs 11, type 20; TensorProto dims 1, data_type 2,
float_data 4, int32_data 5, string_data 6, int64_data 7, name 8, raw_data 9, double_data 10,
uint64_data 11, external_data 13, data_location 14; StringStringEntryProto key 1, value 2;
ValueInfoProto name 1, type 2; TypeProto tensor_type 1; TypeProto.Tensor elem_type 1, shape 2;
TensorShapeProto dim 1; Dimension dim_value 1, dim_param 2.
"""
import mmap
import os
import struct

from edgeprof.protowire import I32, I64, LEN, VARINT, WireError, fields, read_varint

EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
# AttributeProto.AttributeType (onnx.proto): the kinds of value an attribute holds.
_FLOAT, _INT, _STRING, _TENSOR, _GRAPH, _FLOATS, _INTS, _STRINGS, _TENSORS, _GRAPHS = range(1, 11)


class OpsetId(object):
    __slots__ = ("domain", "version")

    def __init__(self, domain, version):
        self.domain, self.version = domain, version


class Entry(object):
    """A StringStringEntryProto (an external_data key and value)."""
    __slots__ = ("key", "value")

    def __init__(self, key, value):
        self.key, self.value = key, value


class Tensor(object):
    """A TensorProto: name, dims, data type, where its data lives, and its values when they were kept."""
    __slots__ = ("name", "dims", "data_type", "data_location", "external_data", "raw_data", "float_data",
                 "int32_data", "int64_data", "double_data", "uint64_data", "string_data", "has_values")

    def __init__(self):
        self.name, self.dims, self.data_type, self.data_location = "", [], 0, 0
        self.external_data = []
        self.raw_data = b""
        self.float_data, self.int32_data, self.int64_data = [], [], []
        self.double_data, self.uint64_data, self.string_data = [], [], []
        self.has_values = True  # False when the reader left the payload in the file

    def to_array(self):
        """The values as a numpy array, as onnx.numpy_helper.to_array gives them for the types numpy
        holds (onnx v1.17.0 onnx/numpy_helper.py ``to_array``: raw_data little-endian; FLOAT16 stored
        in int32_data as its bit pattern; BOOL, INT8...UINT16 widened into int32_data).

        Raises TypeError for a type numpy has no dtype for (bfloat16, float8, int4, string) and
        ValueError when the values were not kept or do not fill the dims.
        """
        import numpy
        if not self.has_values or self.data_location == EXTERNAL:
            raise ValueError("tensor %r: values not read" % self.name)
        dtype = numpy_dtype(self.data_type)
        dims = tuple(self.dims)
        if self.raw_data:
            return numpy.frombuffer(self.raw_data, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims)
        if self.data_type == 10:  # FLOAT16: bit patterns in int32_data
            return numpy.array(self.int32_data, dtype=numpy.uint16).view(numpy.float16).reshape(dims)
        if self.data_type in (14, 15):  # COMPLEX64/128: real and imaginary parts interleaved
            data = self.float_data if self.data_type == 14 else self.double_data
            pairs = numpy.array(data, dtype=numpy.float32 if self.data_type == 14 else numpy.float64)
            return (pairs[0::2] + 1j * pairs[1::2]).astype(dtype).reshape(dims)
        field = {1: self.float_data, 11: self.double_data, 7: self.int64_data, 12: self.uint64_data,
                 13: self.uint64_data}.get(self.data_type, self.int32_data)
        return numpy.array(field, dtype=dtype).reshape(dims)


class Attribute(object):
    """An AttributeProto, its value already decoded as onnx.helper.get_attribute_value would give it."""
    __slots__ = ("name", "type", "value")

    def __init__(self, name, type_, value):
        self.name, self.type, self.value = name, type_, value


class Node(object):
    __slots__ = ("name", "op_type", "domain", "input", "output", "attribute")

    def __init__(self):
        self.name, self.op_type, self.domain = "", "", ""
        self.input, self.output, self.attribute = [], [], []

    def attr(self, name, default):
        for attribute in self.attribute:
            if attribute.name == name:
                return attribute.value
        return default


class ValueInfo(object):
    """A ValueInfoProto of a tensor: name, element type and sizes (None for a symbolic or missing size;
    ``dims`` None when the type has no shape)."""
    __slots__ = ("name", "elem_type", "dims")

    def __init__(self, name, elem_type, dims):
        self.name, self.elem_type, self.dims = name, elem_type, dims


class Graph(object):
    __slots__ = ("node", "initializer", "sparse_initializer", "input", "output", "subgraphs")

    def __init__(self):
        self.node, self.initializer, self.input, self.output = [], [], [], []
        self.sparse_initializer = []  # the ``values`` tensor of each SparseTensorProto (name, dims, type)
        self.subgraphs = 0  # graph attributes (If, Loop, Scan bodies): not decoded


class Model(object):
    """A ModelProto's fields the costs read. ``onnx_light``, where the reader sets it, builds the same
    model as an onnx ModelProto (large payloads left out) for what needs onnx's shape inference."""
    __slots__ = ("ir_version", "opset_import", "graph", "functions", "onnx_light")

    def __init__(self):
        self.ir_version, self.opset_import, self.graph, self.functions = 0, [], Graph(), 0
        self.onnx_light = None


def numpy_dtype(data_type):
    """The numpy dtype of an ONNX TensorProto.DataType (onnx/mapping.py's table for the types numpy
    has); TypeError for the others."""
    import numpy
    names = {1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64",
             9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
             15: "complex128"}
    if data_type not in names:
        raise TypeError("ONNX data type %d has no numpy dtype here" % data_type)
    return numpy.dtype(names[data_type])


def onnx_dtype(dtype):
    """The ONNX TensorProto.DataType of a numpy dtype (the inverse of :func:`numpy_dtype`)."""
    import numpy
    codes = {"float32": 1, "uint8": 2, "int8": 3, "uint16": 4, "int16": 5, "int32": 6, "int64": 7, "bool": 9,
             "float16": 10, "float64": 11, "uint32": 12, "uint64": 13, "complex64": 14, "complex128": 15}
    name = numpy.dtype(dtype).name
    if name not in codes:
        raise KeyError("numpy dtype %s has no ONNX data type here" % name)
    return codes[name]


# ---- the walk ---------------------------------------------------------------------------------

def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(buf, start, end):
    return bytes(buf[start:end]).decode("utf-8")


def _varints(buf, wire_type, start, end, signed=True):
    """The values of one occurrence of a repeated integer field, packed (LEN) or not (VARINT)."""
    if wire_type == VARINT:
        value = read_varint(buf, start, end)[0]
        return [_signed(value) if signed else value]
    if wire_type != LEN:
        raise WireError("integer field with wire type %d" % wire_type)
    values, pos = [], start
    while pos < end:
        value, pos = read_varint(buf, pos, end)
        values.append(_signed(value) if signed else value)
    return values


def _fixed(buf, wire_type, start, end, code, size):
    """The values of a repeated float (code 'f', 4 bytes) or double ('d', 8) field, packed or not."""
    if wire_type not in (LEN, I32 if size == 4 else I64) or (end - start) % size:
        raise WireError("float field with wire type %d and %d bytes" % (wire_type, end - start))
    return list(struct.unpack("<%d%s" % ((end - start) // size, code), bytes(buf[start:end])))


def _tensor(buf, start, end, keep_values_bytes=None, bits=None):
    """A Tensor from ``buf[start:end]``; with ``keep_values_bytes``, values of a tensor larger than
    that (from dims and type) or stored externally are left unread (``has_values`` False)."""
    tensor = Tensor()
    payload = []
    for number, wire_type, _, value_start, value_end in fields(buf, start, end):
        if number == 1:
            tensor.dims.extend(_varints(buf, wire_type, value_start, value_end))
        elif number == 2 and wire_type == VARINT:
            tensor.data_type = read_varint(buf, value_start, value_end)[0]
        elif number == 8 and wire_type == LEN:
            tensor.name = _text(buf, value_start, value_end)
        elif number == 14 and wire_type == VARINT:
            tensor.data_location = read_varint(buf, value_start, value_end)[0]
        elif number == 13 and wire_type == LEN:
            entry = Entry("", "")
            for sub, sub_wire, _, sub_start, sub_end in fields(buf, value_start, value_end):
                if sub in (1, 2) and sub_wire == LEN:
                    setattr(entry, "key" if sub == 1 else "value", _text(buf, sub_start, sub_end))
            tensor.external_data.append(entry)
        elif number in (4, 5, 6, 7, 9, 10, 11):
            payload.append((number, wire_type, value_start, value_end))
    if keep_values_bytes is not None:
        count = 1
        for dim in tensor.dims:
            count *= dim
        size = (count * bits.get(tensor.data_type, 0) + 7) // 8 if bits.get(tensor.data_type) else \
            sum(e - s for _, _, s, e in payload)
        if tensor.data_location == EXTERNAL or size > keep_values_bytes:
            tensor.has_values = False
            return tensor
    for number, wire_type, value_start, value_end in payload:
        if number == 9:
            tensor.raw_data = bytes(buf[value_start:value_end])
        elif number == 4:
            tensor.float_data.extend(_fixed(buf, wire_type, value_start, value_end, "f", 4))
        elif number == 10:
            tensor.double_data.extend(_fixed(buf, wire_type, value_start, value_end, "d", 8))
        elif number == 5:
            tensor.int32_data.extend(_varints(buf, wire_type, value_start, value_end))
        elif number == 7:
            tensor.int64_data.extend(_varints(buf, wire_type, value_start, value_end))
        elif number == 11:
            tensor.uint64_data.extend(_varints(buf, wire_type, value_start, value_end, signed=False))
        elif number == 6:
            tensor.string_data.append(bytes(buf[value_start:value_end]))
    return tensor


def _attribute(buf, start, end, graph):
    name, type_, found = "", 0, {}
    floats, ints, strings, tensors = [], [], [], []
    for number, wire_type, _, value_start, value_end in fields(buf, start, end):
        if number == 1 and wire_type == LEN:
            name = _text(buf, value_start, value_end)
        elif number == 20 and wire_type == VARINT:
            type_ = read_varint(buf, value_start, value_end)[0]
        elif number == 2 and wire_type == I32:
            found[_FLOAT] = struct.unpack("<f", bytes(buf[value_start:value_end]))[0]
        elif number == 3 and wire_type == VARINT:
            found[_INT] = _signed(read_varint(buf, value_start, value_end)[0])
        elif number == 4 and wire_type == LEN:
            found[_STRING] = bytes(buf[value_start:value_end])
        elif number == 5 and wire_type == LEN:
            found[_TENSOR] = _tensor(buf, value_start, value_end)
        elif number in (6, 11) and wire_type == LEN:
            graph.subgraphs += 1
            found[_GRAPH if number == 6 else _GRAPHS] = None
        elif number == 7:
            floats.extend(_fixed(buf, wire_type, value_start, value_end, "f", 4))
        elif number == 8:
            ints.extend(_varints(buf, wire_type, value_start, value_end))
        elif number == 9 and wire_type == LEN:
            strings.append(bytes(buf[value_start:value_end]))
        elif number == 10 and wire_type == LEN:
            tensors.append(_tensor(buf, value_start, value_end))
    found.update({_FLOATS: floats, _INTS: ints, _STRINGS: strings, _TENSORS: tensors})
    return Attribute(name, type_, found.get(type_))


def _node(buf, start, end, graph):
    node = Node()
    for number, wire_type, _, value_start, value_end in fields(buf, start, end):
        if wire_type != LEN:
            continue
        if number == 1:
            node.input.append(_text(buf, value_start, value_end))
        elif number == 2:
            node.output.append(_text(buf, value_start, value_end))
        elif number == 3:
            node.name = _text(buf, value_start, value_end)
        elif number == 4:
            node.op_type = _text(buf, value_start, value_end)
        elif number == 7:
            node.domain = _text(buf, value_start, value_end)
        elif number == 5:
            node.attribute.append(_attribute(buf, value_start, value_end, graph))
    return node


def _value_info(buf, start, end):
    name, elem_type, dims = "", 0, None
    for number, wire_type, _, value_start, value_end in fields(buf, start, end):
        if number == 1 and wire_type == LEN:
            name = _text(buf, value_start, value_end)
        elif number == 2 and wire_type == LEN:
            for kind, kind_wire, _, kind_start, kind_end in fields(buf, value_start, value_end):
                if kind != 1 or kind_wire != LEN:
                    continue  # sequence, map, optional or sparse types: no tensor shape
                for sub, sub_wire, _, sub_start, sub_end in fields(buf, kind_start, kind_end):
                    if sub == 1 and sub_wire == VARINT:
                        elem_type = read_varint(buf, sub_start, sub_end)[0]
                    elif sub == 2 and sub_wire == LEN:
                        dims = [_dimension(buf, d_start, d_end)
                                for d, d_wire, _, d_start, d_end in fields(buf, sub_start, sub_end)
                                if d == 1 and d_wire == LEN]
    return ValueInfo(name, elem_type, dims)


def _dimension(buf, start, end):
    """A size, or None for a symbolic one (dim_param) or none (onnx.helper reads 0 as unknown here too)."""
    value = None
    for number, wire_type, _, value_start, value_end in fields(buf, start, end):
        if number == 1 and wire_type == VARINT:
            value = _signed(read_varint(buf, value_start, value_end)[0])
    return value if value is not None and value > 0 else None


def _graph(buf, start, end, keep_values_bytes, bits):
    graph = Graph()
    for number, wire_type, _, value_start, value_end in fields(buf, start, end):
        if wire_type != LEN:
            continue
        if number == 1:
            graph.node.append(_node(buf, value_start, value_end, graph))
        elif number == 5:
            graph.initializer.append(_tensor(buf, value_start, value_end, keep_values_bytes, bits))
        elif number in (11, 12):
            (graph.input if number == 11 else graph.output).append(_value_info(buf, value_start, value_end))
        elif number == 15:  # SparseTensorProto: values 1 (a TensorProto), indices 2, dims 3
            for sub, sub_wire, _, sub_start, sub_end in fields(buf, value_start, value_end):
                if sub == 1 and sub_wire == LEN:
                    graph.sparse_initializer.append(_tensor(buf, sub_start, sub_end, 0, bits))
    return graph


def decode(buf, keep_values_bytes, bits):
    """The :class:`Model` in the serialized ModelProto ``buf`` (bytes or an mmap).

    Args:
        keep_values_bytes (int): graph initializers of at most this many bytes keep their values.
        bits (dict): ONNX data type -> bits per element (to size an initializer from its dims).

    Raises WireError (a ValueError) for bytes that are not a well-formed message, and
    UnicodeDecodeError for a name that is not UTF-8.
    """
    model = Model()
    for number, wire_type, _, value_start, value_end in fields(buf, 0, len(buf)):
        if number == 1 and wire_type == VARINT:
            model.ir_version = read_varint(buf, value_start, value_end)[0]
        elif number == 8 and wire_type == LEN:
            opset = OpsetId("", 0)
            for sub, sub_wire, _, sub_start, sub_end in fields(buf, value_start, value_end):
                if sub == 1 and sub_wire == LEN:
                    opset.domain = _text(buf, sub_start, sub_end)
                elif sub == 2 and sub_wire == VARINT:
                    opset.version = _signed(read_varint(buf, sub_start, sub_end)[0])
            model.opset_import.append(opset)
        elif number == 7 and wire_type == LEN:
            model.graph = _graph(buf, value_start, value_end, keep_values_bytes, bits)
        elif number == 25 and wire_type == LEN:
            model.functions += 1
    return model


def read(path, keep_values_bytes, bits):
    """:func:`decode` of the file ``path``, memory-mapped (the payloads skipped are never read from the
    disk; external data files are not opened)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return Model()  # mmap refuses an empty file; an empty message is a model without a graph
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            # No read-ahead into the payloads the walk jumps over (madvise: Python >= 3.8, Linux).
            advise, random_access = getattr(buf, "madvise", None), getattr(mmap, "MADV_RANDOM", None)
            if advise is not None and random_access is not None:
                advise(random_access)
            return decode(buf, keep_values_bytes, bits)

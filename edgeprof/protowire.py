"""The protobuf wire format, read by hand: varints and the fields of one message (stdlib only).

https://protobuf.dev/programming-guides/encoding/: each field is a tag varint ``field << 3 | wire
type``, then a varint, 8 or 4 bytes, or a length varint and that many bytes. Two readers of ONNX
files walk it without the onnx package: :mod:`edgeprof.costs.wire` (a model's graph without its
weight payloads) and :mod:`edgeprof.agent.backends.ort_graph` (the node list the agent needs to
tell which MatMuls multiply by a weight, on a board that has no onnx).
"""

# Wire types (protobuf encoding): VARINT, I64, LEN, SGROUP, EGROUP, I32.
VARINT, I64, LEN, I32 = 0, 1, 2, 5
_FIXED_SIZE = {I64: 8, I32: 4}


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message (garbage or a truncated file)."""


def read_varint(buf, pos, end):
    """Decode the base-128 varint at ``buf[pos]``; returns (value, position after it)."""
    value, shift = 0, 0
    while True:
        if pos >= end:
            raise WireError("truncated varint at byte %d" % pos)
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes at byte %d" % pos)


def encode_varint(value):
    """The base-128 varint of a non-negative ``value`` (low 7 bits first, high bit = more follow)."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fields(buf, start, end):
    """Yield (field number, wire type, start of the field's tag, start of value, end of value).

    For a VARINT the value range holds the varint's bytes; for LEN, the payload without its
    length prefix. Raises WireError on a field that runs past ``end`` or a wire type protobuf
    3 and ONNX do not use (groups, or the invalid 6 and 7).
    """
    pos = start
    while pos < end:
        tag_start = pos
        key, pos = read_varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0 at byte %d" % tag_start)
        if wire_type == VARINT:
            value_start = pos
            _, pos = read_varint(buf, pos, end)
        elif wire_type == LEN:
            length, value_start = read_varint(buf, pos, end)
            pos = value_start + length
        elif wire_type in _FIXED_SIZE:
            value_start = pos
            pos += _FIXED_SIZE[wire_type]
        else:
            raise WireError("wire type %d at byte %d" % (wire_type, tag_start))
        if pos > end:
            raise WireError("field %d at byte %d runs past the end of its message (truncated?)"
                            % (number, tag_start))
        yield number, wire_type, tag_start, value_start, pos

"""Extract the API names of a TensorRT Python bindings wheel into a small checked-in list.

The ``tensorrt`` bindings are a pybind11 module: every class, method, property and enum
value name it defines is a NUL-terminated string in the ``.rodata`` section of its
``tensorrt*.so``. This script reads that section straight from the wheel (no TensorRT,
CUDA or GPU needed; the module is never imported), keeps the strings that are Python
identifiers (less C++ type encodings and pybind11 internals), adds the top-level names of
the package's ``__init__.py`` (``nptype``, ``__version__``...), and writes them one a line,
sorted, under a header naming the wheel.

The linker merges a string into the tail of a longer one ("Logger" into "ILogger",
"INT8" into "UINT8"), so a name is *present* when a listed name equals it or ends
with it; tests/agent/test_tensorrt_names.py applies that rule.

Usage (downloads go to /tmp; only the lists are checked in)::

    pip download --no-deps tensorrt-bindings==8.6.1 -d /tmp/trt
    pip download --no-deps tensorrt-cu11-bindings==10.13.0.35 -d /tmp/trt
    pip download --no-deps tensorrt-cu12-bindings -d /tmp/trt
    python tools/extract_trt_names.py /tmp/trt/*.whl --out tests/data/trt_names
"""
import argparse
import ast
import hashlib
import os
import re
import struct
import sys
import zipfile

IDENTIFIER = re.compile(rb"^[A-Za-z_][A-Za-z0-9_]*$")
# Itanium type-info names such as N8nvinfer17ILoggerE: not Python API names.
TYPEINFO = re.compile(rb"^(N\d|St\d|\d)")
# pybind11 signature encodings such as FvRN8nvinfer120IOptimizationProfileEmE.
SIGNATURE = re.compile(rb"^P?F\w*[a-z]\w*E$")
INTERNAL = re.compile(rb"pybind11|cxx11|libstdcpp")
VERSION_LINE = re.compile(r"__version__\s*=\s*[\"']([^\"']+)[\"']")


def elf_section(data, wanted):
    """The bytes of section ``wanted`` (e.g. b'.rodata') of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_offset, names_size = headers[shstrndx][4], headers[shstrndx][5]
    names = data[names_offset:names_offset + names_size]
    for name_at, _, _, _, offset, size in headers:
        if names[name_at:names.index(b"\0", name_at)] == wanted:
            return data[offset:offset + size]
    raise ValueError("no %s section" % wanted.decode())


def identifiers(rodata):
    """Sorted set of the NUL-terminated strings in ``rodata`` that are identifiers."""
    found = set()
    for chunk in rodata.split(b"\0"):
        if (len(chunk) >= 2 and IDENTIFIER.match(chunk) and not TYPEINFO.match(chunk)
                and not SIGNATURE.match(chunk) and not INTERNAL.search(chunk)):
            found.add(chunk.decode("ascii"))
    return sorted(found)


def package_names(init_source):
    """Top-level function, class and variable names of the package ``__init__.py``."""
    names = set()
    for node in ast.parse(init_source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def read_wheel(wheel_path):
    """(version, so_name, names) of a tensorrt bindings wheel."""
    with zipfile.ZipFile(wheel_path) as wheel:
        members = wheel.namelist()
        so_names = [m for m in members if re.search(r"/tensorrt[^/]*\.so$", m)]
        init_names = [m for m in members if m.endswith("/__init__.py") and m.count("/") == 1]
        if len(so_names) != 1 or not init_names:
            raise ValueError("%s: expected one tensorrt*.so and a package __init__.py" % wheel_path)
        init_source = wheel.read(init_names[0]).decode("utf-8")
        names = identifiers(elf_section(wheel.read(so_names[0]), b".rodata"))
    version = VERSION_LINE.search(init_source)
    if not version:
        raise ValueError("%s: no __version__ in %s" % (wheel_path, init_names[0]))
    return version.group(1), so_names[0], sorted(set(names) | package_names(init_source))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_list(out_dir, wheel_path, version, so_name, names):
    """Write ``<out_dir>/<version>.txt``; return its path."""
    target = os.path.join(out_dir, "%s.txt" % version)
    header = [
        "# TensorRT %s Python bindings: identifier strings of .rodata in %s, and the top-level names of "
        "its __init__.py" % (version, so_name),
        "# wheel: %s (sha256 %s)" % (os.path.basename(wheel_path), sha256_of(wheel_path)),
        "# written by tools/extract_trt_names.py; a name is present when a line equals it or ends with it",
    ]
    with open(target, "w") as f:
        f.write("\n".join(header + names) + "\n")
    return target


def wheels_parser(description, out_folder):
    """The command line both wheel tools share: the wheels, and ``--out`` (default tests/data/<out_folder>)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("wheels", nargs="+", help="tensorrt bindings wheel files (.whl)")
    parser.add_argument("--out", default=os.path.join("tests", "data", out_folder),
                        help="folder for the <version>.txt lists (default: %(default)s)")
    return parser


def main(argv=None):
    args = wheels_parser(__doc__.splitlines()[0], "trt_names").parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for wheel_path in args.wheels:
        version, so_name, names = read_wheel(wheel_path)
        target = write_list(args.out, wheel_path, version, so_name, names)
        print("%s: %d names, %d bytes" % (target, len(names), os.path.getsize(target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

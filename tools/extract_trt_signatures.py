"""Extract the pybind11 signatures of a TensorRT Python bindings wheel into a small checked-in list.

pybind11 writes each function's signature into its ``__doc__`` when the module is imported, e.g.
``set_tensor_address(self: tensorrt.tensorrt.IExecutionContext, name: str, memory: int) -> bool``.
This script imports the bindings of a wheel in a child interpreter and writes, per class, every
method's signatures (each overload: argument names, annotations, defaults, return annotation),
every property (read-only or read-write, and its type), the class's bases, which classes are
enums (their values are left out), and the module-level functions, with each docstring's first
sentence. tests/agent/test_tensorrt_signatures.py checks the backend's TensorRT calls against them.

Importing needs the TensorRT libraries the bindings link to (``libnvinfer.so.N``, ...), shipped in
the ``tensorrt-*-libs`` wheels. On the package registry those are placeholders that download from
NVIDIA's own index, which is not reachable here, and the GPU is never needed. So by default the
libraries the bindings name (DT_NEEDED) and this machine cannot load are replaced by *stubs*:
shared objects, compiled here with ``cc``, that define each symbol the bindings import from them
(a dozen factory functions: ``createInferBuilder_INTERNAL``, ``getPluginRegistry``, ...), each
aborting the process if it is ever called. That is enough: the bindings reach TensorRT only
through those factories and C++ virtual calls, and module initialisation calls none of them
(a call would abort the import, so a run that finishes proves it). The signatures are built by
the bindings' own code, so they are the real ones. Pass ``--libs DIR`` to load real libraries
instead.

Usage (downloads go to /tmp; only the lists are checked in; the interpreter must match the
wheel's cpXY tag)::

    pip download --no-deps tensorrt-bindings==8.6.1 -d /tmp/trt
    pip download --no-deps tensorrt-cu11-bindings==10.13.0.35 -d /tmp/trt
    pip download --no-deps tensorrt-cu12-bindings==11.4.0.106 -d /tmp/trt
    python tools/extract_trt_signatures.py /tmp/trt/*.whl --out tests/data/trt_signatures

Output, one fact a line (``tests/data/trt_signatures/<version>.txt``; type names lose their
``tensorrt.tensorrt.`` prefix, and ``<... object at 0x...>`` defaults their address)::

    class IExecutionContext(pybind11_object)
    IExecutionContext.execute_async_v3(self: IExecutionContext, stream_handle: int) -> bool
    IExecutionContext.profiler: property readwrite -> IProfiler
    enum MemoryPoolType
    def nptype(trt_type)
    static NAME.MEMBER(...)          a static method
    NAME.MEMBER: attribute TYPE      a class attribute that is neither (a nested class, a constant)
    NAME.__init__: no constructor    pybind11 binds no constructor: Python code cannot create one
        | text                       the docstring's first sentence of the line above

An overloaded method has one line per overload, in pybind11's order.
"""
import ctypes
import ctypes.util
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from extract_trt_names import VERSION_LINE, sha256_of, wheels_parser  # noqa: E402  (the sibling tool)

WHEEL_PYTHON = re.compile(r"-cp(\d)(\d+)-")
SYSTEM_LIBRARIES = ("c", "m", "dl", "pthread", "rt", "gcc_s", "stdc++")

# Runs in the child interpreter, where ``tensorrt`` is the wheel's package; prints JSON.
DUMP = r'''
import enum, inspect, json, sys
import tensorrt

def doc_of(obj):
    try:
        return obj.__doc__ or ""
    except Exception:
        return ""

def python_signature(func):
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return None

def is_enum(cls):
    return (isinstance(cls, type) and issubclass(cls, enum.Enum)) or "__members__" in dir(cls)

def member(value):
    if isinstance(value, property):
        return {"kind": "property", "writable": value.fset is not None, "getter": doc_of(value.fget),
                "doc": doc_of(value)}
    if isinstance(value, staticmethod):
        func = value.__func__
        return {"kind": "static", "doc": doc_of(func), "python": python_signature(func)
                if inspect.isfunction(func) else None}
    if isinstance(value, classmethod):
        return {"kind": "classmethod", "doc": doc_of(value.__func__), "python": None}
    if inspect.isfunction(value):
        return {"kind": "method", "doc": doc_of(value), "python": python_signature(value)}
    if callable(value) and type(value).__name__ in ("instancemethod", "builtin_function_or_method",
                                                    "wrapper_descriptor", "method_descriptor"):
        return {"kind": "method", "doc": doc_of(value), "python": None}
    if isinstance(value, type):
        return {"kind": "attribute", "type": "enum" if is_enum(value) else "class"}
    return {"kind": "attribute", "type": type(value).__name__}

classes, functions = {}, {}
for name in sorted(dir(tensorrt)):
    value = getattr(tensorrt, name)
    if isinstance(value, type) and value.__module__.split(".")[0] in ("tensorrt", "tensorrt_bindings"):
        members = {}
        if not is_enum(value):
            for key, attr in sorted(vars(value).items()):
                if key.startswith("__") and key != "__init__":
                    continue
                if key == "__init__" and type(attr).__name__ == "wrapper_descriptor":
                    members[key] = {"kind": "noinit"}  # a slot, not a pybind11 function: no constructor bound
                else:
                    members[key] = member(attr)
        classes[name] = {"bases": [b.__name__ for b in value.__bases__], "enum": is_enum(value),
                         "members": members}
    elif callable(value) and not isinstance(value, type) and not name.startswith("_"):
        functions[name] = {"doc": doc_of(value),
                           "python": python_signature(value) if inspect.isfunction(value) else None}
json.dump({"version": tensorrt.__version__, "python": sys.version.split()[0], "classes": classes,
           "functions": functions}, sys.stdout)
'''


# -- the wheel's shared object: what it needs from TensorRT ----------------------------------------

def elf_sections(data):
    """``{name: (type, offset, size, link)}`` of a 64-bit little-endian ELF file's sections."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQII", data, shoff + i * shentsize) for i in range(shnum)]
    names_offset = headers[shstrndx][4]
    sections = {}
    for name_at, kind, _, _, offset, size, link, _ in headers:
        end = data.index(b"\0", names_offset + name_at)
        sections[data[names_offset + name_at:end].decode("ascii")] = (kind, offset, size, headers[link][4])
    return sections


def _string(data, at):
    return data[at:data.index(b"\0", at)].decode("ascii")


def needed_and_imports(data):
    """(DT_NEEDED names, undefined global unversioned symbols) of an ELF shared object."""
    sections = elf_sections(data)
    _, dyn_offset, dyn_size, dynstr = sections[".dynamic"]
    needed = []
    for at in range(dyn_offset, dyn_offset + dyn_size, 16):
        tag, value = struct.unpack_from("<qQ", data, at)
        if tag == 1:  # DT_NEEDED
            needed.append(_string(data, dynstr + value))
    _, sym_offset, sym_size, symstr = sections[".dynsym"]
    versions = sections.get(".gnu.version")
    imports = []
    for index, at in enumerate(range(sym_offset, sym_offset + sym_size, 24)):
        name_at, info, _, shndx, _, _ = struct.unpack_from("<IBBHQQ", data, at)
        version = struct.unpack_from("<H", data, versions[1] + 2 * index)[0] & 0x7FFF if versions else 0
        # undefined (SHN_UNDEF), GLOBAL (not WEAK), and not tied to a versioned library such as GLIBC_2.14
        if index and shndx == 0 and info >> 4 == 1 and version <= 1:
            imports.append(_string(data, symstr + name_at))
    return needed, imports


def loadable(library):
    try:
        ctypes.CDLL(library)
        return True
    except OSError:
        return False


def stub_libraries(needed, imports, folder):
    """Compile stubs for the libraries in ``needed`` that do not load here; return their names."""
    for name in SYSTEM_LIBRARIES:
        path = ctypes.util.find_library(name)
        if path:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    here = ctypes.CDLL(None)
    symbols = sorted(s for s in imports if not s.startswith(("Py", "_Py")) and not hasattr(here, s))
    missing = [n for n in needed if not loadable(n)]
    if not missing:
        return [], []
    source = os.path.join(folder, "stub.c")
    with open(source, "w") as f:
        f.write("#include <stdio.h>\n#include <stdlib.h>\n")
        for symbol in symbols:
            f.write('void *%s(void) { fputs("TensorRT stub called: %s\\n", stderr); abort(); return 0; }\n'
                    % (symbol, symbol))
    for name in missing:
        subprocess.check_call(["cc", "-shared", "-fPIC", "-Wl,-soname," + name, "-o", os.path.join(folder, name),
                               source])
    return missing, symbols


# -- the child's dump, as lines ---------------------------------------------------------------------

ADDRESS = re.compile(r" (object )?at 0x[0-9a-f]+>")


def short_types(text):
    """Drop the module prefix of TensorRT type names, and object addresses."""
    text = re.sub(r"\btensorrt(_bindings)?\.tensorrt\.", "", text)
    return ADDRESS.sub(">", text)


def summary(text):
    """The first sentence of a docstring body, on one line (at most 160 characters)."""
    words = " ".join(text.split())
    sentence = re.split(r"(?<=[.!?])\s", words, maxsplit=1)[0] if words else ""
    return sentence if len(sentence) <= 160 else sentence[:157] + "..."


def overloads(name, doc):
    """``[(signature, summary)]`` of a pybind11 docstring: one item per overload."""
    lines = doc.strip("\n").splitlines()
    if not lines:
        return []
    if len(lines) > 1 and lines[1].strip() == "Overloaded function.":
        found, current = [], None
        for line in lines[2:]:
            match = re.match(r"^\d+\. (%s\(.*)$" % re.escape(name), line)
            if match:
                current = [match.group(1), []]
                found.append(current)
            elif current is not None:
                current[1].append(line)
        return [(sig, summary("\n".join(body))) for sig, body in found]
    if lines[0].startswith(name + "("):
        return [(lines[0], summary("\n".join(lines[1:])))]
    return []


def class_lines(name, info):
    if info["enum"]:
        return ["enum %s" % name]
    out = ["class %s(%s)" % (name, ", ".join(info["bases"]))]
    for key, spec in sorted(info["members"].items()):
        kind = spec["kind"]
        if kind == "property":
            returns = spec["getter"].strip().splitlines()[0].split(") -> ", 1) if spec["getter"].strip() else []
            out.append("%s.%s: property %s%s" % (name, key, "readwrite" if spec["writable"] else "readonly",
                                                 " -> " + returns[1] if len(returns) == 2 else ""))
            if summary(spec["doc"]):
                out.append("    | " + summary(spec["doc"]))
        elif kind == "noinit":
            out.append("%s.%s: no constructor" % (name, key))
        elif kind in ("method", "static", "classmethod"):
            prefix = "" if kind == "method" else kind + " "
            found = overloads(key, spec["doc"])
            if not found and spec.get("python") is not None:
                found = [(key + spec["python"], summary(spec["doc"]))]
            if not found:
                found = [(key + "(*args, **kwargs)", "signature not visible: " + summary(spec["doc"]))]
            for signature, text in found:
                out.append("%s%s.%s" % (prefix, name, signature))
                if text:
                    out.append("    | " + text)
        else:
            out.append("%s.%s: attribute %s" % (name, key, spec["type"]))
    return out


def function_lines(name, info):
    found = overloads(name, info["doc"])
    if not found and info.get("python") is not None:
        found = [(name + info["python"], summary(info["doc"]))]
    if not found:
        found = [(name + "(*args, **kwargs)", "signature not visible")]
    out = []
    for signature, text in found:
        out.append("def " + signature)
        if text:
            out.append("    | " + text)
    return out


def dump_lines(dump):
    lines = []
    for name, info in sorted(dump["classes"].items()):
        lines.extend(class_lines(name, info))
    for name, info in sorted(dump["functions"].items()):
        lines.extend(function_lines(name, info))
    return [short_types(line) for line in lines]


# -- one wheel ----------------------------------------------------------------------------------

def import_wheel(wheel_path, python, libs, work):
    """(dump, so_name, how) of a bindings wheel imported in ``python`` from ``work``."""
    site = os.path.join(work, "site")
    with zipfile.ZipFile(wheel_path) as wheel:
        members = wheel.namelist()
        so_names = [m for m in members if re.search(r"^[^/]+/tensorrt[^/]*\.so$", m)]
        if len(so_names) != 1:
            raise ValueError("%s: expected one top-level tensorrt*.so" % wheel_path)
        package = so_names[0].split("/")[0]
        wheel.extractall(site)
        needed, imports = needed_and_imports(wheel.read(so_names[0]))
    if package != "tensorrt":  # import it as `tensorrt`, the name the meta package gives it
        os.rename(os.path.join(site, package), os.path.join(site, "tensorrt"))
    env = dict(os.environ, PYTHONPATH=site, PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    if libs:
        library_path, how = libs, "imported against the TensorRT libraries in %s" % libs
    else:
        stubs = os.path.join(work, "stubs")
        os.makedirs(stubs)
        stubbed, symbols = stub_libraries(needed, imports, stubs)
        library_path = stubs
        how = ("imported with stubs for %s (no TensorRT libraries here; the stubs define the %d symbols the "
               "bindings import from them: %s; each aborts if called, and none was)"
               % (", ".join(stubbed) or "nothing", len(symbols), ", ".join(symbols)))
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (library_path, os.environ.get("LD_LIBRARY_PATH")) if p)
    child = subprocess.run([python, "-c", DUMP], env=env, cwd=work, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True)
    if child.returncode != 0:
        raise RuntimeError("%s: importing the bindings with %s failed (exit %d):\n%s"
                           % (wheel_path, python, child.returncode, child.stderr[-3000:]))
    return json.loads(child.stdout), so_names[0], how


def distribution(wheel_path):
    """``NAME==VERSION`` of a wheel, from its METADATA."""
    with zipfile.ZipFile(wheel_path) as wheel:
        metadata = [m for m in wheel.namelist() if m.endswith(".dist-info/METADATA")]
        text = wheel.read(metadata[0]).decode("utf-8") if metadata else ""
    fields = dict(re.findall(r"^(Name|Version): (\S+)$", text, re.M))
    return "%s==%s" % (fields.get("Name", "?"), fields.get("Version", "?"))


def write_list(out_dir, wheel_path, dump, so_name, how, command):
    target = os.path.join(out_dir, "%s.txt" % dump["version"])
    header = [
        "# TensorRT %s Python bindings: pybind11 signatures of every class member and module function of %s"
        % (dump["version"], so_name),
        "# wheel: %s (sha256 %s), from pip download --no-deps %s -d /tmp/trt"
        % (os.path.basename(wheel_path), sha256_of(wheel_path), distribution(wheel_path)),
        "# %s, under Python %s" % (how, dump["python"]),
        "# written by: %s" % command,
        "# format: see tools/extract_trt_signatures.py (enum values left out; '    | ' lines: the docstring's first "
        "sentence)",
    ]
    with open(target, "w") as f:
        f.write("\n".join(header + dump_lines(dump)) + "\n")
    return target


def wheel_python(wheel_path, python):
    """The interpreter to import the wheel with: ``python``, or pythonX.Y from its cpXY tag."""
    if python:
        return python
    tag = WHEEL_PYTHON.search(os.path.basename(wheel_path))
    wanted = "python%s.%s" % tag.groups() if tag else None
    if not tag or "%d%d" % sys.version_info[:2] == "".join(tag.groups()):
        return sys.executable
    found = shutil.which(wanted)
    if not found:
        raise SystemExit("%s needs %s; pass --python" % (wheel_path, wanted))
    return found


def main(argv=None):
    parser = wheels_parser(__doc__.splitlines()[0], "trt_signatures")
    parser.add_argument("--python", help="interpreter matching the wheels' cpXY tag (default: this one, or "
                                         "pythonX.Y on the PATH)")
    parser.add_argument("--libs", help="folder with the real TensorRT libraries (default: compile stubs)")
    args = parser.parse_args(argv)
    command = " ".join(shlex.quote(a) for a in ["python", "tools/extract_trt_signatures.py"]
                       + list(sys.argv[1:] if argv is None else argv))
    os.makedirs(args.out, exist_ok=True)
    for wheel_path in args.wheels:
        work = tempfile.mkdtemp(prefix="trt-signatures-")
        try:
            dump, so_name, how = import_wheel(wheel_path, wheel_python(wheel_path, args.python), args.libs, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        with zipfile.ZipFile(wheel_path) as wheel:
            init = [m for m in wheel.namelist() if m.endswith("/__init__.py") and m.count("/") == 1]
            declared = VERSION_LINE.search(wheel.read(init[0]).decode("utf-8")) if init else None
        if declared and declared.group(1) != dump["version"]:
            raise SystemExit("%s: __init__.py says %s, the import says %s" % (wheel_path, declared.group(1),
                                                                                dump["version"]))
        target = write_list(args.out, wheel_path, dump, so_name, how, command)
        print("%s: %d classes, %d functions, %d bytes" % (target, len(dump["classes"]), len(dump["functions"]),
                                                          os.path.getsize(target)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

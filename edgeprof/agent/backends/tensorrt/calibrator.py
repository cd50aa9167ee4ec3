"""int8 calibration: files from ``--calib-dir`` as batches for each network input, fed to TensorRT by a calibrator.

Three kinds of files are read, sorted by name:

- ``.npy``: a preprocessed array of shape ``(C, H, W)`` or ``(N, C, H, W)``, used as is (one-input models);
- ``.npz``: one such array per input, named after the input (models with several inputs);
- ``.jpg``/``.jpeg``/``.png``/``.bmp`` (one-input models): decoded with Pillow where it imports, resized
  to the model's H x W, scaled to [0, 1] and normalised with the ImageNet mean and std
  (the torchvision preprocessing the zoo's models were trained with).

:func:`make_calibrator` wraps them in an ``IInt8EntropyCalibrator2`` with one device buffer per input,
each sized from that input's profile shape: TensorRT reads every input's full volume from its pointer
(8.2 ``pyInt8.cpp:39-50``). Only numpy is needed for ``.npy``/``.npz`` files; Pillow is imported lazily
for images, and ``tensorrt`` is passed in, never imported here.
"""
import hashlib
import os

from edgeprof.agent.backends.tensorrt.dtypes import numpy_dtype
from edgeprof.errors import BackendError, InputFileError
from edgeprof.records.files import sha256_file

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
ARRAY_SUFFIXES = (".npy", ".npz")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def calibration_files(calib_dir):
    """Sorted paths of the usable files in ``calib_dir``.

    Raises:
        InputFileError: the folder is missing or holds no usable file.
    """
    if not os.path.isdir(calib_dir):
        raise InputFileError("--calib-dir %s is not a folder; give a folder of .npy, .npz or image files"
                             % calib_dir)
    names = sorted(n for n in os.listdir(calib_dir) if n.lower().endswith(ARRAY_SUFFIXES + IMAGE_SUFFIXES))
    if not names:
        raise InputFileError("--calib-dir %s holds no .npy, .npz, .jpg, .png or .bmp file" % calib_dir)
    return [os.path.join(calib_dir, n) for n in names]


def fingerprint(paths):
    """A short hash of the files' names and contents: part of the engine cache key for int8."""
    digest = hashlib.sha256()
    for p in paths:
        digest.update(("%s:%s\n" % (os.path.basename(p), sha256_file(p))).encode("utf-8"))
    return digest.hexdigest()[:16]


def calibration_inputs(trt, network, shapes):
    """``[(name, shape, numpy dtype)]`` of the network's inputs, in order, at their profile ``shapes``."""
    inputs = []
    for index in range(network.num_inputs):
        tensor = network.get_input(index)
        inputs.append((tensor.name, tuple(shapes[tensor.name]), numpy_dtype(trt, tensor.dtype, tensor.name)))
    return inputs


def _load_image(path, chw):
    try:
        from PIL import Image
    except ImportError:
        raise InputFileError("%s: reading images for int8 calibration needs Pillow (pip3 install pillow); "
                             "or give preprocessed .npy files in --calib-dir" % path)
    import numpy
    channels, height, width = chw
    try:
        with Image.open(path) as image:
            rgb = image.convert("RGB").resize((width, height))
    except OSError as exc:  # Pillow's UnidentifiedImageError is one
        raise InputFileError("%s: not a readable image (%s); remove it from --calib-dir" % (path, exc))
    pixels = numpy.asarray(rgb, dtype=numpy.float32) / 255.0
    pixels = (pixels - numpy.array(IMAGENET_MEAN, numpy.float32)) / numpy.array(IMAGENET_STD, numpy.float32)
    if channels != 3:
        raise InputFileError("%s: the model takes %d channels; give .npy files in --calib-dir" % (path, channels))
    return pixels.transpose(2, 0, 1)


def _as_batch(array, shape, what):
    """``array`` as ``(N,) + shape`` float32 (a single ``shape`` array gets the batch axis)."""
    array = array.astype("float32")
    if array.ndim == len(shape):
        array = array[None]
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != tuple(shape):
        raise InputFileError("%s: shape %s does not fit the model input (N, %s)"
                             % (what, tuple(array.shape), ", ".join(str(d) for d in shape)))
    return array


def _load_npy(path, shape):
    import numpy
    try:
        array = numpy.load(path)
    except (OSError, ValueError) as exc:
        raise InputFileError("%s: not a readable .npy array (%s); remove it from --calib-dir" % (path, exc))
    return _as_batch(array, shape, path)


def _load_npz(path, shapes):
    """``{input name: (N,) + shape array}`` from an .npz archive with one array per input."""
    import numpy
    arrays = {}
    try:
        with numpy.load(path) as archive:
            for name, shape in sorted(shapes.items()):
                if name not in archive.files:
                    raise InputFileError("%s has no array named %r; give one array per model input (%s)"
                                         % (path, name, ", ".join(sorted(shapes))))
                arrays[name] = _as_batch(archive[name], shape, "%s[%s]" % (path, name))
    except (OSError, ValueError) as exc:
        raise InputFileError("%s: not a readable .npz archive (%s); remove it from --calib-dir" % (path, exc))
    counts = sorted(set(len(a) for a in arrays.values()))
    if len(counts) != 1:
        raise InputFileError("%s: its arrays hold different numbers of samples (%s)" % (path, counts))
    return arrays


def samples(paths, inputs):
    """Yield one sample per image, ``{input name: array of that input's shape without the batch}``, in file order."""
    shapes = dict((name, shape[1:]) for name, shape, _ in inputs)
    for path in paths:
        if path.lower().endswith(".npz"):
            arrays = _load_npz(path, shapes)
            for index in range(len(next(iter(arrays.values())))):
                yield dict((name, array[index]) for name, array in arrays.items())
            continue
        if len(inputs) != 1:
            raise InputFileError("%s: the model has %d inputs (%s); give .npz files with one array per input"
                                 % (path, len(inputs), ", ".join(sorted(shapes))))
        (name, chw), = shapes.items()
        if path.lower().endswith(".npy"):
            for image in _load_npy(path, chw):
                yield {name: image}
        else:
            yield {name: _load_image(path, chw)}


def batches(paths, batch, inputs):
    """Yield ``{input name: contiguous array (batch,) + shape}`` in each input's dtype; a last partial batch
    is dropped."""
    import numpy
    pending = []
    for sample in samples(paths, inputs):
        pending.append(sample)
        if len(pending) == batch:
            yield dict((name, numpy.ascontiguousarray(numpy.stack([s[name] for s in pending]), dtype=dtype))
                       for name, _, dtype in inputs)
            pending = []


def make_calibrator(trt, cuda, paths, batch, inputs):
    """An IInt8EntropyCalibrator2 feeding ``paths`` (see :func:`batches`) through one device buffer per input.

    Args:
        inputs (list): ``[(name, shape, numpy dtype)]`` (:func:`calibration_inputs`).
    """

    class FileCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = batches(paths, batch, inputs)
            self._host = dict((name, cuda.pinned_empty(shape, dtype)) for name, shape, dtype in inputs)
            self._device = dict((name, cuda.alloc(host.nbytes)) for name, host in self._host.items())
            self._stream = cuda.create_stream()
            self.batches_used = 0
            self.error = None  # raised by Engines.build: nothing may escape into TensorRT's noexcept getBatch

        def get_batch_size(self):
            return batch

        def get_batch(self, names):
            try:
                pointers = self._next_batch(names)
            except BaseException as exc:  # a bad file, or an interrupt: end calibration, raise after the build
                self.error = exc
                return None
            if pointers is not None:
                self.batches_used += 1
            return pointers

        def _next_batch(self, names):
            unknown = [n for n in names if n not in self._device]
            if unknown:
                raise BackendError("TensorRT asked calibration data for %s, not an input of the network"
                                   % ", ".join(map(repr, unknown)))
            data = next(self._batches, None)
            if data is None:
                return None
            for name, array in data.items():
                self._host[name][...] = array
                cuda.htod_async(self._device[name], self._host[name], self._stream)
            cuda.synchronize(self._stream)
            return [int(self._device[name]) for name in names]

        def read_calibration_cache(self):
            return None

        def write_calibration_cache(self, cache):
            return None

    return FileCalibrator()

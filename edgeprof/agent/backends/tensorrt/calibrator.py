"""int8 calibration: files from ``--calib-dir`` as float32 NCHW batches, fed to TensorRT by a calibrator.

Two kinds of files are read, sorted by name:

- ``.npy``: a preprocessed array of shape ``(C, H, W)`` or ``(N, C, H, W)``, used as is;
- ``.jpg``/``.jpeg``/``.png``/``.bmp``: decoded with Pillow where it imports, resized to the
  model's H x W, scaled to [0, 1] and normalised with the ImageNet mean and std
  (the torchvision preprocessing the zoo's models were trained with).

:func:`make_calibrator` wraps them in an ``IInt8EntropyCalibrator2`` that copies each batch through
one device buffer. Only numpy is needed for ``.npy`` files; Pillow is imported lazily for images,
and ``tensorrt`` is passed in, never imported here.
"""
import hashlib
import os

from edgeprof.errors import InputFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def calibration_files(calib_dir):
    """Sorted paths of the usable files in ``calib_dir``.

    Raises:
        InputFileError: the folder is missing or holds no usable file.
    """
    if not os.path.isdir(calib_dir):
        raise InputFileError("--calib-dir %s is not a folder; give a folder of .npy or image files" % calib_dir)
    names = sorted(n for n in os.listdir(calib_dir) if n.lower().endswith((".npy",) + IMAGE_SUFFIXES))
    if not names:
        raise InputFileError("--calib-dir %s holds no .npy, .jpg, .png or .bmp file" % calib_dir)
    return [os.path.join(calib_dir, n) for n in names]


def fingerprint(paths):
    """A short hash of the file names and sizes: part of the engine cache key for int8."""
    digest = hashlib.sha256()
    for p in paths:
        digest.update(("%s:%d\n" % (os.path.basename(p), os.path.getsize(p))).encode("utf-8"))
    return digest.hexdigest()[:16]


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


def _load_npy(path, chw):
    import numpy
    try:
        array = numpy.load(path).astype(numpy.float32)
    except (OSError, ValueError) as exc:
        raise InputFileError("%s: not a readable .npy array (%s); remove it from --calib-dir" % (path, exc))
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(chw):
        raise InputFileError("%s: shape %s does not fit the model input (N, %s)"
                             % (path, tuple(array.shape), ", ".join(str(d) for d in chw)))
    return array


def images(paths, chw):
    """Yield float32 arrays of shape ``chw``, one per image, in file order."""
    for path in paths:
        if path.lower().endswith(".npy"):
            yield from _load_npy(path, chw)
        else:
            yield _load_image(path, chw)


def batches(paths, batch, chw):
    """Yield contiguous float32 arrays ``(batch,) + chw``; a last partial batch is dropped."""
    import numpy
    pending = []
    for image in images(paths, chw):
        pending.append(image)
        if len(pending) == batch:
            yield numpy.ascontiguousarray(numpy.stack(pending), dtype=numpy.float32)
            pending = []


def make_calibrator(trt, cuda, paths, batch, chw):
    """An IInt8EntropyCalibrator2 feeding ``paths`` (see :func:`batches`) through one device buffer."""
    import numpy

    class FileCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)
            self._batches = batches(paths, batch, chw)
            self._host = cuda.pinned_empty((batch,) + tuple(chw), numpy.float32)
            self._device = cuda.alloc(self._host.nbytes)
            self._stream = cuda.create_stream()
            self.batches_used = 0
            self.error = None  # raised by Engines.build: nothing may escape into TensorRT's noexcept getBatch

        def get_batch_size(self):
            return batch

        def get_batch(self, names):
            try:
                data = next(self._batches, None)
                if data is None:
                    return None
                self._host[...] = data
                cuda.htod_async(self._device, self._host, self._stream)
                cuda.synchronize(self._stream)
            except Exception as exc:  # a bad calibration file: end calibration, raise after the build
                self.error = exc
                return None
            self.batches_used += 1
            return [int(self._device)] * len(names)

        def read_calibration_cache(self):
            return None

        def write_calibration_cache(self, cache):
            return None

    return FileCalibrator()

"""The images an int8 export calibrates on: which files, their fingerprint, and the input batches.

A calibration set is the first ``count`` JPEG/PNG files under a folder (searched recursively, in
sorted order of their path relative to it, '/'-separated, so the same folder gives the same set
on every machine). Its fingerprint is the sha256 over each chosen file's relative path and its
own sha256, so the manifest says exactly which images fixed the int8 scales. Without a folder the
set is random: images of uniform random pixels from a fixed seed, put through the same
normalisation (accuracy measured on such a model means nothing, and the manifest says so).

Decoding and preprocessing are :func:`edgeprof.agent.accuracy.preprocess.load_image`, the same
code ``edgeprof accuracy`` runs; the workstation may not import the agent (docs/architecture.md),
so the command hands that function in as ``loader``.
"""
import hashlib
import logging
import os

from edgeprof.errors import InputFileError
from edgeprof.records.files import sha256_file

log = logging.getLogger("edgeprof")

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
DEFAULT_COUNT = 100
RANDOM_SEED = 0
# A small preprocessing that decodes a file fully: used to refuse an unreadable image before any export.
_PROBE = {"resize": 8, "crop": [8, 8]}


class CalibrationSet(object):
    """The chosen images (or a random set) and how to feed them to a model.

    Attributes:
        folder (str or None): the folder given with ``--calib-dir``; None for a random set.
        files (list of str): the chosen files relative to ``folder``, in feeding order.
        count (int): how many images (inputs of batch 1) calibration runs.
        fingerprint (str or None): sha256 over the chosen files' relative paths and contents.
    """

    def __init__(self, folder=None, files=(), loader=None, count=None):
        self.folder, self.files, self.loader = folder, list(files), loader
        self.count = len(self.files) if count is None else int(count)
        self.fingerprint = fingerprint(folder, self.files) if folder else None

    @property
    def random(self):
        return self.folder is None

    def describe(self):
        """The manifest's ``calibration`` mapping."""
        found = {"dir": os.path.abspath(self.folder) if self.folder else None, "images": self.count,
                 "fingerprint": self.fingerprint, "random": self.random}
        if self.random:
            found["seed"] = RANDOM_SEED
        return found

    def same_as(self, recorded):
        """Whether a variant's recorded ``calibration`` mapping was made from this very set."""
        recorded = recorded or {}
        return (bool(recorded.get("random")) == self.random and recorded.get("images") == self.count
                and recorded.get("fingerprint") == self.fingerprint)

    def inputs(self, preprocess, input_name):
        """Yield ``{input_name: (1, 3, H, W) float32}`` for each image, preprocessed with ``preprocess``."""
        import numpy as np
        if self.random:
            generator = np.random.RandomState(RANDOM_SEED)
            height, width = preprocess["crop"]
            mean = np.asarray(preprocess["mean"], np.float32).reshape(3, 1, 1)
            std = np.asarray(preprocess["std"], np.float32).reshape(3, 1, 1)
            for _ in range(self.count):
                pixels = generator.randint(0, 256, size=(3, height, width)).astype(np.float32)
                yield {input_name: ((pixels / np.float32(preprocess["scale"]) - mean) / std)[None]}
            return
        for rel in self.files:
            image = self.loader(os.path.join(self.folder, *rel.split("/")), preprocess)
            yield {input_name: image[None].astype(np.float32)}


def random_set(count=DEFAULT_COUNT):
    """A random calibration set of ``count`` images (seeded: every export gets the same one)."""
    return CalibrationSet(count=count)


def list_images(folder):
    """The JPEG/PNG files under ``folder`` (recursively, following links to folders, as ``edgeprof
    accuracy`` and torchvision's ``ImageFolder`` do: a validation set of symlinked class folders
    calibrates as it is measured), as sorted '/'-separated relative paths."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        for name in files:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                rel = os.path.relpath(os.path.join(root, name), folder)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def fingerprint(folder, files):
    """sha256 over ``path NUL sha256 LF`` of each file, in order."""
    digest = hashlib.sha256()
    for rel in files:
        digest.update(rel.encode("utf-8") + b"\0")
        digest.update(sha256_file(os.path.join(folder, *rel.split("/"))).encode("ascii") + b"\n")
    return digest.hexdigest()


def open_set(folder, count, loader):
    """The first ``count`` images of ``folder``, each checked to decode, before any export starts.

    Args:
        folder (str): the ``--calib-dir`` folder.
        count (int): at most this many images (``--calib-count``).
        loader: ``load_image(path, preprocess) -> (3, H, W) float32`` (see the module docstring).

    Raises:
        InputFileError: the folder is missing or not a folder, has no image, or an image cannot be
            decoded (the loader names the file).
    """
    if not os.path.exists(folder):
        raise InputFileError("--calib-dir %s: no such folder" % folder)
    if not os.path.isdir(folder):
        raise InputFileError("--calib-dir %s is not a folder; give a folder of .jpg/.png images" % folder)
    files = list_images(folder)[:count]
    if not files:
        raise InputFileError("--calib-dir %s has no image (%s files, searched in its subfolders too)"
                             % (folder, "/".join(IMAGE_EXTENSIONS)))
    for rel in files:
        loader(os.path.join(folder, *rel.split("/")), _PROBE)
    if len(files) < count:
        log.info("calibration: %d images in %s (fewer than --calib-count %d)", len(files), folder, count)
    return CalibrationSet(folder, files, loader)

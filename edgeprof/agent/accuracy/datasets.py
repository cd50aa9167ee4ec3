"""Labelled image sets: a folder of class folders (torchvision ``ImageFolder`` order) or a labels file.

Class folders follow torchvision v0.29.1 ``torchvision/datasets/folder.py`` exactly, so that a set
laid out for torchvision gets the same class index here: the classes are the sorted names of the
root's sub-folders (``find_classes``: ``os.scandir`` entries that are folders, sorted), class k the
k-th of them; the images of a class are the files under its folder, walked with ``os.walk``
(following links) in sorted order, whose name ends in one of :data:`IMG_EXTENSIONS` ignoring case
(``make_dataset``, ``has_file_allowed_extension``); a class folder without images is an error, as
there (``allow_empty=False``). ImageNet's validation set laid out as ``val/<wnid>/*.JPEG`` (1000
synset folders) thus gets the standard class index of torchvision's weights.

A labels file has one ``<image path> <integer label>`` per line, the path relative to the file's
folder unless absolute (it may hold spaces: the label is the last word); blank lines and lines
starting with ``#`` are skipped.
"""
import os

from edgeprof.agent.accuracy.preprocess import read_bytes
from edgeprof.errors import InputFileError, UsageError

# torchvision v0.29.1, torchvision/datasets/folder.py, IMG_EXTENSIONS
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class LabelledSet(object):
    """Images with their class index, in evaluation order.

    Attributes:
        kind (str): ``folders`` or ``labels``.
        path (str): the root folder or the labels file, as given.
        base (str): the folder image paths are relative to.
        samples (list of (str, int)): (path relative to ``base``, label).
        classes (list of str or None): the class folder names (``folders`` only).
    """

    def __init__(self, kind, path, base, samples, classes=None):
        self.kind = kind
        self.path = path
        self.base = base
        self.samples = samples
        self.classes = classes

    def full_path(self, relative):
        return os.path.join(self.base, relative)

    def take(self, limit=None, per_class=None):
        """A new set with the first ``per_class`` images of each label and/or the first ``limit`` images."""
        samples = self.samples
        if per_class is not None:
            counts = {}
            kept = []
            for relative, label in samples:
                if counts.get(label, 0) < per_class:
                    kept.append((relative, label))
                    counts[label] = counts.get(label, 0) + 1
            samples = kept
        if limit is not None:
            samples = samples[:limit]
        return LabelledSet(self.kind, self.path, self.base, samples, self.classes)

    def max_label(self):
        return max(label for _, label in self.samples)


def from_folders(root):
    """The set of class folders under ``root`` (see the module docstring for the order)."""
    try:
        classes = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
    except OSError as exc:
        raise InputFileError("cannot list --images %s: %s" % (root, exc.strerror or exc))
    if not classes:
        raise InputFileError("--images %s has no class folders: lay the set out as %s/<class>/<image> "
                             "(one folder per class, sorted names give the class index), or give --labels"
                             % (root, root.rstrip("/")))
    samples = []
    for index, name in enumerate(classes):
        found = 0
        for folder, _, names in sorted(os.walk(os.path.join(root, name), followlinks=True)):
            for file_name in sorted(names):
                if file_name.lower().endswith(IMG_EXTENSIONS):
                    samples.append((os.path.relpath(os.path.join(folder, file_name), root), index))
                    found += 1
        if not found:
            raise InputFileError("class folder %s has no images (names ending in %s)"
                                 % (os.path.join(root, name), " ".join(IMG_EXTENSIONS)))
    return LabelledSet("folders", root, root, samples, classes)


def _parse_line(line, number, path):
    parts = line.rsplit(None, 1)
    if len(parts) != 2:
        raise InputFileError("%s line %d: expected '<image path> <integer label>', got %r" % (path, number, line))
    try:
        label = int(parts[1])
    except ValueError:
        raise InputFileError("%s line %d: the label %r is not an integer" % (path, number, parts[1]))
    if label < 0:
        raise InputFileError("%s line %d: the label %d is negative" % (path, number, label))
    return parts[0], label


def from_labels(path):
    """The set listed in the labels file ``path`` (see the module docstring for the format)."""
    raw = read_bytes(path, "--labels")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError("--labels %s is not UTF-8 text: %s" % (path, exc))
    samples = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            samples.append(_parse_line(line, number, path))
    if not samples:
        raise InputFileError("--labels %s lists no images" % path)
    return LabelledSet("labels", path, os.path.dirname(os.path.abspath(path)), samples)


def load(images=None, labels=None, limit=None, per_class=None):
    """The set given by ``--images`` or ``--labels``, cut to ``--limit`` / ``--per-class``."""
    if (images is None) == (labels is None):
        raise UsageError("give the labelled set with exactly one of --images DIR or --labels FILE")
    for value, flag in ((limit, "--limit"), (per_class, "--per-class")):
        if value is not None and value < 1:
            raise UsageError("%s must be >= 1, got %d" % (flag, value))
    if images is not None:
        if not os.path.isdir(images):
            raise InputFileError("--images %s is not a folder" % images)
        labelled = from_folders(images)
    else:
        labelled = from_labels(labels)
    return labelled.take(limit, per_class)

"""Top-1, top-5 and agreement with a reference: a labelled set through a runner, batch by batch.

Images are read and preprocessed on a few threads (Pillow releases the GIL while it decodes and
resizes) while the counts stay exact integers; percentages are made from them at the end. Ties in
the logits go to the lower class index (a stable sort), for top-1 and top-5 alike. The set's
fingerprint is the sha256 over ``<path>\\t<label>\\t<sha256 of the file>`` lines in evaluation
order, computed from the bytes that were decoded, so two records with one fingerprint measured the
very same images with the same labels.
"""
import hashlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from edgeprof.agent.accuracy.preprocess import image_from_bytes, read_bytes
from edgeprof.errors import InputFileError

log = logging.getLogger("edgeprof")
PROGRESS_SECONDS = 10.0
TOP_K = 5


class Counts(object):
    """What the evaluation found, as counts; :meth:`as_record` turns them into the record's fields."""

    def __init__(self):
        self.images = self.top1 = self.top5 = 0
        self.classes = None
        self.agree = 0
        self.max_abs_logit_diff = None
        self.fingerprint = None

    def add(self, logits, labels, reference=None):
        order = np.argsort(-logits, axis=1, kind="mergesort")  # stable: ties go to the lower index
        self.images += len(labels)
        self.top1 += int(np.sum(order[:, 0] == labels))
        self.top5 += int(np.sum(np.any(order[:, :TOP_K] == labels[:, None], axis=1)))
        if reference is not None:
            self.agree += int(np.sum(np.argmax(reference, axis=1) == order[:, 0]))
            diff = float(np.max(np.abs(logits - reference)))
            self.max_abs_logit_diff = diff if self.max_abs_logit_diff is None else max(diff, self.max_abs_logit_diff)

    def percent(self, count):
        return 100.0 * count / self.images

    def as_record(self):
        """``top1``/``top5`` in percent with their counts, ``images``, ``classes`` (top-5 only above 5 classes)."""
        out = {"top1": self.percent(self.top1), "top1_correct": self.top1, "images": self.images,
               "classes": self.classes}
        if self.classes > TOP_K:
            out["top5"], out["top5_correct"] = self.percent(self.top5), self.top5
        return out

    def agreement(self, reference_sha256):
        return {"reference_sha256": reference_sha256, "top1_agreement": self.percent(self.agree),
                "top1_agreeing": self.agree, "max_abs_logit_diff": self.max_abs_logit_diff}


def check_labels(labelled, classes, source):
    """Refuse labels the model cannot answer; warn when class folders do not match its classes one to one."""
    top = labelled.max_label()
    if top >= classes:
        bad = next(relative for relative, label in labelled.samples if label == top)
        raise InputFileError("label %d (of %s) is outside the model's %d classes (labels 0..%d); %s"
                             % (top, bad, classes, classes - 1, source))
    if labelled.classes is not None and len(labelled.classes) != classes:
        log.warning("warning: %s has %d class folders but the model has %d classes: folder k is taken as "
                    "class k, which is the model's class index only if the folders are all of its classes "
                    "(for a subset, give --labels with the real indices)", labelled.path,
                    len(labelled.classes), classes)


def _loader(labelled, preprocess):
    def load(sample):
        relative, _ = sample
        path = labelled.full_path(relative)
        data = read_bytes(path)
        return image_from_bytes(data, path, preprocess), hashlib.sha256(data).hexdigest()
    return load


def evaluate(runner, labelled, preprocess, batch, name, reference=None, workers=None):
    """Run every image of ``labelled`` through ``runner`` (and ``reference``) and count.

    Args:
        runner, reference (runners.Runner): the model, and the fp32 model to agree with (or None).
        labelled (datasets.LabelledSet): the images and labels, in order.
        preprocess (dict): the model's preprocessing.
        batch (int): images per inference.
        name (str): the model's name, for progress lines.

    Returns:
        Counts
    """
    counts = Counts()
    digest = hashlib.sha256()
    load = _loader(labelled, preprocess)
    samples = labelled.samples
    started = last = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers or min(8, os.cpu_count() or 1)) as pool:
        for start in range(0, len(samples), batch):
            chunk = samples[start:start + batch]
            loaded = list(pool.map(load, chunk))
            images = np.stack([image for image, _ in loaded])
            labels = np.asarray([label for _, label in chunk], dtype=np.int64)
            logits = runner.infer(images)
            if counts.classes is None:
                counts.classes = logits.shape[1]
                check_labels(labelled, counts.classes, "check the labels or the model")
            reference_logits = None
            if reference is not None:
                reference_logits = reference.infer(images)
                if reference_logits.shape != logits.shape:
                    raise InputFileError("the reference model answers %d classes, %s answers %d: they are not "
                                         "the same model" % (reference_logits.shape[1], name, logits.shape[1]))
            counts.add(logits, labels, reference_logits)
            for (relative, label), (_, sha) in zip(chunk, loaded):
                digest.update(("%s\t%d\t%s\n" % (relative.replace(os.sep, "/"), label, sha)).encode("utf-8"))
            now = time.monotonic()
            if now - last >= PROGRESS_SECONDS:
                last = now
                log.info("%s: %d/%d images, top-1 so far %.2f%% (%.0f images/s)", name, counts.images,
                         len(samples), counts.percent(counts.top1), counts.images / (now - started))
    counts.fingerprint = digest.hexdigest()
    return counts

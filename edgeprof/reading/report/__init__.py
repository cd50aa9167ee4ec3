"""The paper's analysis for a set of profiles: figures, findings (fits) and one HTML page.

``data`` turns profiles into tidy rows, ``findings`` computes the paper's findings as numbers
(numpy only), ``figures`` draws them (matplotlib, imported lazily: only ``edgeprof report``
needs it), ``page`` writes findings.md, findings.json and index.html. :func:`build` runs all four.
"""
import os


def build(paths, out_dir, manifest_path=None):
    """Write the report for the profiles under ``paths`` into ``out_dir``.

    Args:
        paths: profile files or folders.
        out_dir: folder to write index.html, findings.md, findings.json and figures/ into.
        manifest_path: optional models/manifest.yaml that fills static fields profiles lack.

    Returns:
        str: the path of index.html.
    """
    from edgeprof.reading.report import data, figures, findings, page
    dataset = data.load(paths, manifest_path)
    results = findings.compute(dataset)
    drawn = figures.draw_all(dataset, results, os.path.join(out_dir, "figures"))
    return page.write(results, drawn, out_dir)

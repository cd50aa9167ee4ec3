"""Pack edgeprof's source on the workstation for site.yml, the same bytes for the same tree.

    python pack_source.py SOURCE VERSION OUT_DIR

SOURCE is a local folder or a git URL (pip's spelling is accepted: git+https://host/repo.git@v1.0;
a ref after the last '@' of the URL's path wins over VERSION). A git URL is cloned here, on the
workstation, so the boards need neither git nor access to the repository. Prints one JSON line:
{"archive": ..., "sha256": ..., "source": ..., "version": ...}.

Why a script and not `tar -czf`: the checksum is what tells a board that its copy is current, so
the archive must not change when the tree does not. Members are sorted, owners are dropped and the
gzip header carries no time; files keep their modification times (a wheel build refuses times
before 1980, so they are not zeroed). Errors are one line on stderr and exit status 2.
"""
import gzip
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from urllib.parse import urlsplit

# What never goes to a board: environments, outputs and caches (at any depth for the caches).
EXCLUDED_TOP = {".git", "build", "models", "profiles", "report", "demo"}
EXCLUDED_ANYWHERE = {"__pycache__", ".pytest_cache", ".ruff_cache"}


class PackError(Exception):
    pass


def is_git_url(source):
    return source.startswith(("git+", "http://", "https://", "ssh://", "git://", "file://", "git@"))


def split_git_url(source):
    """'git+https://h/r.git@v1' -> ('https://h/r.git', 'v1'); no ref -> (url, None).

    pip takes the ref after the last '@' of the URL's path (pip/_internal/vcs/versioncontrol.py,
    VersionControl.get_url_rev_and_auth: ``if "@" in path: path, rev = path.rsplit("@", 1)``), so a
    user@ in the host part is not a ref. The scp-like form git@host:path has its path after ':'.
    """
    url = source[len("git+"):] if source.startswith("git+") else source
    if "://" in url:
        parts = urlsplit(url)
        head = url[:len(url) - len(parts.path)] if parts.path else url
        path = parts.path
    else:
        head, sep, path = url.partition(":")
        if not sep:
            raise PackError("edgeprof_source=%s is neither a folder nor a git URL" % source)
        head += ":"
    if "@" in path:
        path, ref = path.rsplit("@", 1)
        if not ref:
            raise PackError("edgeprof_source=%s ends in '@' with no ref after it" % source)
        return head + path, ref
    return head + path, None


def clone(url, ref, into):
    """A shallow-as-possible clone of ``url`` at ``ref`` (a branch, tag or commit)."""
    def git(*args):
        result = subprocess.run(["git"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["exit status %d" % result.returncode])[-1]
            raise PackError("git %s failed: %s" % (args[0], last))
        return result.stdout.strip()

    try:
        git("clone", "--quiet", "--no-checkout", url, into)
    except FileNotFoundError:
        raise PackError("edgeprof_source is a git URL but git is not installed on the workstation")
    git("-C", into, "checkout", "--quiet", "--detach", ref)
    return git("-C", into, "rev-parse", "HEAD")


def members(root):
    """Relative paths of the files to pack, sorted, without the excluded folders.

    Folders are not members: their times change whenever Python writes a __pycache__ into them.
    """
    found = []
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        top = rel_folder == "."
        dirs[:] = sorted(d for d in dirs if d not in EXCLUDED_ANYWHERE and not d.endswith(".egg-info")
                         and not (top and (d in EXCLUDED_TOP or d.startswith(".venv"))))
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            found.append(os.path.normpath(os.path.join(rel_folder, name)))
    return sorted(found)


def _plain(info):
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(root, archive):
    with open(archive, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
            with tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar:
                for rel in members(root):
                    tar.add(os.path.join(root, rel), arcname=rel, recursive=False, filter=_plain)


def main(argv):
    if len(argv) != 3:
        raise PackError("usage: pack_source.py SOURCE VERSION OUT_DIR")
    source, version, out_dir = argv
    archive = os.path.join(out_dir, "edgeprof-src.tar.gz")
    if is_git_url(source):
        url, ref = split_git_url(source)
        if ref and version not in ("", "HEAD", ref):
            raise PackError("edgeprof_source names ref %s and edgeprof_source_version=%s: give one" % (ref, version))
        with tempfile.TemporaryDirectory(prefix="edgeprof-clone-") as work:
            commit = clone(url, ref or version or "HEAD", os.path.join(work, "src"))
            pack(os.path.join(work, "src"), archive)
        described = {"source": url, "version": commit}
    else:
        if not os.path.isfile(os.path.join(source, "deploy", "jetson", "install.sh")):
            raise PackError("edgeprof_source=%s is not an edgeprof source folder (no deploy/jetson/install.sh)" % source)
        pack(source, archive)
        described = {"source": os.path.abspath(source), "version": "working tree"}
    with open(archive, "rb") as f:  # under a megabyte: the source without environments or outputs
        described.update({"archive": archive, "sha256": hashlib.sha256(f.read()).hexdigest()})
    print(json.dumps(described))


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except PackError as exc:
        sys.stderr.write("error: %s\n" % exc)
        sys.exit(2)

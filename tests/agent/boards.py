"""The fixture machine roots (tests/fixtures/<board>, see its README) and a helper that uses a copy of one."""
import os
import shutil

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")
# Every board tree, oldest L4T first.
BOARDS = ("tx1", "tx2", "nano", "xavier-nx", "agx-orin", "agx-xavier", "xavier-nx-jp5", "orin-nx", "orin-nano")


def user(tmp_path, monkeypatch):
    """A function ``use(board)``: copy the board's tree to ``tmp_path``, point EDGEPROF_ROOT at it, return it."""
    def use(board):
        root = tmp_path / board
        shutil.copytree(os.path.join(FIXTURES, board), str(root))
        monkeypatch.setenv("EDGEPROF_ROOT", str(root))
        return root
    return use

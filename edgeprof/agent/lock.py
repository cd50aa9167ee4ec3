"""A lock file per profile folder, so two sweeps never write the same profiles at once.

The lock file holds the holder's pid and host. A lock left by a process that no longer runs
(killed sweep, power cut) is taken over with a note; a live holder makes the second sweep stop
with a message naming the pid.
"""
import errno
import logging
import os
import socket

from edgeprof.errors import LockHeld

LOCK_NAME = ".edgeprof.lock"
log = logging.getLogger("edgeprof")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def _read_holder(path):
    try:
        with open(path) as f:
            pid_text, _, host = f.read().strip().partition(" ")
        return int(pid_text), host
    except (IOError, OSError, ValueError):
        return None, None


class FolderLock(object):
    """``with FolderLock(folder):`` holds ``folder/.edgeprof.lock`` for this process."""

    def __init__(self, folder):
        self.path = os.path.join(folder, LOCK_NAME)
        self.held = False

    def acquire(self):
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            os.makedirs(folder)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except OSError as exc:
                if exc.errno != errno.EEXIST:
                    raise
                self._take_over_if_stale()
                continue
            with os.fdopen(fd, "w") as f:
                f.write("%d %s\n" % (os.getpid(), socket.gethostname()))
            self.held = True
            return self
        raise LockHeld("could not take the lock %s; remove it if no sweep is running" % self.path)

    def _take_over_if_stale(self):
        pid, host = _read_holder(self.path)
        same_host = host in (None, "", socket.gethostname())
        # Our own pid can only be a leftover (in a container edgeprof is pid 1 at every start).
        if pid is not None and same_host and pid != os.getpid() and _pid_alive(pid):
            raise LockHeld("another sweep (pid %d) is writing to %s; wait for it to finish or stop it"
                           % (pid, os.path.dirname(self.path)))
        if pid is not None and not same_host:
            raise LockHeld("%s is locked by pid %d on host %s; if no sweep runs there, delete the lock file"
                           % (os.path.dirname(self.path), pid, host))
        log.warning("taking over a stale lock %s (pid %s no longer runs)", self.path, pid)
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def release(self):
        if self.held:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.held = False

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

"""Replays the progress-indicator operations read as JSON from stdin on
imageio's own StdoutProgressIndicator, with a clock that moves 0.06 s per
reading, and prints what it wrote to stdout (as JSON, to keep the
backspaces exact)."""

import contextlib
import io
import json
import sys

import imageio.core.util as util


class Clock:
    def __init__(self):
        self.t = 1000.0

    def time(self):
        self.t += 0.06
        return self.t


def main():
    name, ops = json.load(sys.stdin)
    util.time = Clock()  # the module's `time`, used only for time.time()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        p = util.StdoutProgressIndicator(name)
        for op in ops:
            kind = op[0]
            if kind == "start":
                p.start(op[1], op[2], op[3])
            elif kind == "set":
                p.set_progress(op[1], op[2])
            elif kind == "inc":
                p.increase_progress(op[1])
            elif kind == "write":
                p.write(op[1])
            elif kind == "finish":
                p.finish(op[1])
            elif kind == "fail":
                p.fail(op[1])
    sys.stdout.write(json.dumps(out.getvalue()))


if __name__ == "__main__":
    main()

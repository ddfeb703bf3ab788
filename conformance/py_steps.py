# The step protocol both Python scenarios speak to conformance/lib.ts:
# "::step NAME", "::ok NAME MS", "::note TEXT" lines on stdout.
import time

current = [None]


def out(line):
    print(line, flush=True)


def note(text):
    out("::note " + text)


def step(name):
    def wrap(fn):
        current[0] = name
        out("::step " + name)
        t = time.monotonic()
        fn()
        out("::ok %s %d" % (name, (time.monotonic() - t) * 1000))
        current[0] = None
        return fn

    return wrap


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError("%s:\n  expected %r\n  actual   %r" % (what, expected, actual))

"""Running the learner's code without letting it touch the teacher, or the
teacher touch the learner's notebook.

Every check runs inside `teacher` (a decorator). Around the learner's code it:
- saves and restores the global random state (torch, random, numpy), the default
  dtype and device and grad mode, and runs the check with the defaults
  (float32, the CPU, grad mode on) whatever an earlier cell set;
- puts the course back as it shipped for the length of the check: a learner
  who assigned `LayerNorm.forward = ...` or changed `GPT_CONFIG_124M` while
  experimenting gets their version back afterwards, but the check compares
  with the course's own code;
- catches the learner's prints, shows the first few, and prints the verdict
  last, so a flood of prints never hides it;
- says after `STILL_RUNNING_AFTER` seconds that the code is still running, and
  stops it after `STOP_AFTER` seconds with a "Not yet" (where the platform
  allows: the main thread of a Unix process, as in Jupyter on Linux and macOS);
- turns `exit()` and any other escape into a "Not yet": a check never crashes.
"""

import copy
import functools
import io
import random
import re
import signal
import sys
import threading
import time
import types

import torch

from ..language import tr

__all__ = [
    "STILL_RUNNING_AFTER", "STOP_AFTER", "explain_error", "snapshot_course", "teacher",
    "teacher_working",
]

STILL_RUNNING_AFTER = 10.0  # seconds before the check says the code is still running
STOP_AFTER = 20.0           # seconds before it stops the code (where it can)
LINES_SHOWN = 5             # lines of the learner's own prints shown before the verdict


class TookTooLong(BaseException):
    """Raised in the learner's code when it has run for STOP_AFTER seconds. A
    BaseException, so that `except Exception` in the learner's code lets it through."""


# ------------------------------------------------------------------ the course as shipped

_shipped = {}  # module or class -> {name: value} as the package loaded them
_shipped_dicts = {}  # id of a dict global (a config) -> (the dict, a copy of its contents)


def snapshot_course(modules):
    """Remember every global of `modules` and every attribute of the classes
    they define, as they are now (called once, when the package loads)."""
    for module in modules:
        _shipped[module] = {k: v for k, v in vars(module).items() if not k.startswith("__")}
        for key, value in vars(module).items():
            if key.startswith("__"):
                continue
            if isinstance(value, dict) and id(value) not in _shipped_dicts:
                _shipped_dicts[id(value)] = (value, copy.deepcopy(value))
            if isinstance(value, type) and value.__module__ == module.__name__:
                _shipped[value] = dict(vars(value))


_MISSING = object()


def _put_course_back():
    """Undo the learner's changes to the course; return what to redo afterwards."""
    redo = []
    for owner, shipped in _shipped.items():
        now = vars(owner)
        for name in set(now) | set(shipped):
            if name in ("__dict__", "__weakref__") or (isinstance(owner, types.ModuleType)
                                                       and name.startswith("__")):
                continue
            current, original = now.get(name, _MISSING), shipped.get(name, _MISSING)
            if current is original:
                continue
            redo.append((owner, name, current))
            if original is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
    for value, contents in _shipped_dicts.values():
        if value != contents:
            redo.append((value, None, dict(value)))
            value.clear()
            value.update(copy.deepcopy(contents))
    return redo


def _redo(redo):
    for owner, name, value in reversed(redo):
        if name is None:  # a config dict's contents
            owner.clear()
            owner.update(value)
        elif value is _MISSING:
            delattr(owner, name)
        else:
            setattr(owner, name, value)


# ------------------------------------------------------------------ prints

class _Prints(io.TextIOBase):
    """Where the learner's prints go during a check: the first lines kept, the rest counted."""

    def __init__(self):
        self.lines, self.count, self._partial = [], 0, ""

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        parts = (self._partial + text).split("\n")
        self._partial = parts.pop()
        for line in parts:
            self._line(line)
        return len(text)

    def _line(self, line):
        self.count += 1
        if len(self.lines) < LINES_SHOWN:
            self.lines.append(line if len(line) <= 200 else line[:197] + "...")

    def close_lines(self):
        if self._partial:
            self._line(self._partial)
            self._partial = ""


# ------------------------------------------------------------------ the watch

class _Watch:
    """Counts the time the learner's code runs (not the check's own work, see
    `teacher_working`); says "still running" after STILL_RUNNING_AFTER s and
    stops the code after STOP_AFTER s: with SIGALRM in the main thread of a
    Unix process, else (Windows, a thread) it can only say it."""

    def __init__(self, out):
        self.out = out
        self.said = False
        self.can_stop = (hasattr(signal, "setitimer") and
                         threading.current_thread() is threading.main_thread())
        self.timer = None
        self.before = None
        self.used = 0.0       # seconds of learner code before the current stretch
        self.since = None     # monotonic time the current stretch began, or None when paused

    def _say(self):
        self.said = True
        try:
            self.out.write(tr("(still running after {seconds:.0f} s: your code may never "
                              "return, e.g. a loop that never ends; stop it with the "
                              "kernel's stop button)", seconds=STILL_RUNNING_AFTER) + "\n")
            self.out.flush()
        except Exception:
            pass

    def _alarm(self, signum, frame):
        if not self.said:
            self._say()
            signal.setitimer(signal.ITIMER_REAL, max(STOP_AFTER - STILL_RUNNING_AFTER, 0.01))
            return
        signal.setitimer(signal.ITIMER_REAL, 1.0)  # again, should the code swallow it
        raise TookTooLong()

    def _arm(self):
        self.since = time.monotonic()
        left = (STILL_RUNNING_AFTER if not self.said else STOP_AFTER) - self.used
        left = max(left, 0.01)
        if self.can_stop:
            signal.setitimer(signal.ITIMER_REAL, left)
        elif not self.said:
            self.timer = threading.Timer(left, self._say)
            self.timer.daemon = True
            self.timer.start()

    def _disarm(self):
        if self.since is not None:
            self.used += time.monotonic() - self.since
            self.since = None
        if self.can_stop:
            signal.setitimer(signal.ITIMER_REAL, 0)
        elif self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def start(self):
        if self.can_stop:
            try:
                self.before = signal.signal(signal.SIGALRM, self._alarm)
            except (ValueError, OSError):
                self.can_stop = False
        self._arm()

    def pause(self):
        self._disarm()

    def resume(self):
        if self.since is None:
            self._arm()

    def stop(self):
        self._disarm()
        if self.can_stop:
            signal.signal(signal.SIGALRM, self.before if self.before is not None
                          else signal.SIG_DFL)


class teacher_working:
    """`with teacher_working():` around the check's own work (the reference in
    float64, the mistakes): its time is not the learner's."""

    def __enter__(self):
        self.watch = _session.watch if _session is not None else None
        if self.watch is not None:
            self.paused = self.watch.since is not None
            if self.paused:
                self.watch.pause()
        return self

    def __exit__(self, *exc):
        if self.watch is not None and self.paused:
            self.watch.resume()


# ------------------------------------------------------------------ the session

class _Session:
    """One check's run: the verdict lines it will print, and what to restore."""

    def __init__(self, watch):
        self.verdict = []
        self.watch = watch


_session = None


def session():
    """The running check's session, or None outside a check."""
    return _session


def _random_states():
    states = {"torch": torch.get_rng_state(), "random": random.getstate()}
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        states["numpy"] = numpy.random.get_state()
    return states


def _restore_random(states):
    torch.set_rng_state(states["torch"])
    random.setstate(states["random"])
    if "numpy" in states:
        sys.modules["numpy"].random.set_state(states["numpy"])


def _settings_note(dtype, device, grad):
    changed = []
    if not grad:
        changed.append(tr("grad mode off"))
    if dtype != torch.float32:
        changed.append(tr("default dtype {dtype}", dtype=dtype))
    if device.type != "cpu":
        changed.append(tr("default device {device}", device=device))
    if not changed:
        return None
    return tr("(an earlier cell set {what}; the check ran with grad mode on, float32 and the "
              "CPU, and left your settings as they were)", what=", ".join(changed))


def teacher(check):
    """Make `check` a teacher: the learner's state is left exactly as found,
    their prints never hide the verdict, code that runs too long is stopped,
    and whatever escapes becomes a "Not yet". Checks called from inside a
    check run in the outer one's session."""
    from .base import report

    @functools.wraps(check)
    def run(*args, **kwargs):
        global _session
        if _session is not None:
            return check(*args, **kwargs)
        out = sys.stdout
        prints = _Prints()
        randoms = _random_states()
        dtype, device, grad = torch.get_default_dtype(), _default_device(), torch.is_grad_enabled()
        redo = _put_course_back()
        watch = _Watch(out)
        _session = _Session(watch)
        result, interrupted = None, None
        try:
            torch.set_default_dtype(torch.float32)
            if device.type != "cpu":
                torch.set_default_device("cpu")
            torch.set_grad_enabled(True)
            sys.stdout = prints
            watch.start()
            try:
                result = check(*args, **kwargs)
            except TookTooLong:
                result = report(False, "", tr(
                    "your code was still running after {seconds:.0f} s and was stopped: look "
                    "for a loop that never ends (a while loop whose condition never changes, "
                    "or a forward that calls itself).", seconds=STOP_AFTER))
            except SystemExit:
                result = report(False, "", tr(
                    "your code called exit() or sys.exit(), which would stop the notebook; "
                    "remove that call (return a value instead)."))
            except KeyboardInterrupt as err:
                interrupted = err
            except Exception as err:  # a teacher never crashes
                result = report(False, "", explain_error(err))
        finally:
            watch.stop()
            sys.stdout = out
            prints.close_lines()
            verdict, _session = _session.verdict, None
            _redo(redo)
            torch.set_grad_enabled(grad)
            torch.set_default_dtype(dtype)
            if device.type != "cpu":
                torch.set_default_device(device)
            _restore_random(randoms)
        if interrupted is not None:
            raise interrupted
        if prints.count:
            print(tr("Your code printed {count} lines during the check; the first {shown}:",
                     count=prints.count, shown=len(prints.lines))
                  if prints.count > len(prints.lines) else
                  tr("Your code printed during the check:"))
            for line in prints.lines:
                print("    " + line)
        note = _settings_note(dtype, device, grad)
        if note:
            print(note)
        for line in verdict:
            print(line)
        return result

    run.__teacher__ = True
    return run


def _default_device():
    get = getattr(torch, "get_default_device", None)
    return get() if get is not None else torch.device("cpu")


# ------------------------------------------------------------------ errors, explained

# (what torch says, as a pattern; what it means in an exercise): the common errors
# a learner's code raises, each with a hint about this kind of code.
_KNOWN_ERRORS = [
    (r"view\ssize\sis\snot\scompatible\swith\sinput\stensor's\ssize\sand\sstride",
     "after .transpose(...) the numbers are no longer laid out in order in memory, so "
     ".view(...) cannot reshape them: use .contiguous().view(...) or .reshape(...)."),
    (r"Sizes\sof\stensors\smust\smatch\sexcept\sin\sdimension",
     "torch.cat got tensors whose sizes differ in a dimension other than the one it joins "
     "along: print their shapes, and check the dim you join along."),
    (r"does\snot\srequire\sgrad\sand\sdoes\snot\shave\sa\sgrad_fn",
     "the loss has no graph to go back through: was it computed under torch.no_grad(), from "
     "a .detach()ed tensor or .item(), or from a model whose parameters do not require "
     "gradients?"),
    (r"mat1\sand\smat2\sshapes\scannot\sbe\smultiplied",
     "a matrix product got shapes that do not fit (the last dimension of the first must "
     "equal the first of the second): print the shapes going into each Linear or @."),
    (r"must\smatch\sthe\ssize\sof\stensor",
     "two tensors of different shapes were combined element by element: print their shapes "
     "at that line."),
    (r"modified\sby\san\sinplace\soperation",
     "a tensor needed for the gradients was changed in place (+=, masked_fill_, x[...] = ...): "
     "write x = x + ... instead of x += ..., and use the out-of-place versions."),
    (r"Expected\sall\stensors\sto\sbe\son\sthe\ssame\sdevice",
     "tensors on different devices were combined: keep everything on the CPU for the checks."),
    (r"expected\sscalar\stype",
     "tensors of different dtypes were combined: keep everything in float32 (and token ids "
     "as integers)."),
    (r"index\sout\sof\srange\sin\sself",
     "an embedding got a token id or position beyond its size: check the ids, and the "
     "positions torch.arange(seq_len) you look up."),
]


def explain_error(err):
    """A sentence for an error the learner's code raised: torch's message, and
    what it usually means in an exercise when it is one of the common ones."""
    from .base import describe_exception

    text = describe_exception(err)
    message = str(err)
    for pattern, meaning in _KNOWN_ERRORS:
        if re.search(pattern, message):
            return tr("your code raised {error}. In short: {meaning}", error=text,
                      meaning=tr(meaning))
    return tr("your code raised {error}.", error=text)


def course_modules():
    """The package's modules whose classes and globals a check relies on."""
    return [module for name, module in sorted(sys.modules.items())
            if isinstance(module, types.ModuleType)
            and (name == "gpt_course.config" or name.startswith(("gpt_course.book.",
                                                                   "gpt_course.beyond.")))]

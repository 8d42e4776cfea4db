"""What Python 2.6, 2.7 and 3.x spell differently."""
import sys

PY3 = sys.version_info[0] >= 3

if PY3:
    string_types = (str,)
    ask = input

    def reraise(exc_type, value, traceback):
        raise value.with_traceback(traceback)
else:
    string_types = (basestring,)
    ask = raw_input
    exec("def reraise(exc_type, value, traceback):\n"
         "    raise exc_type, value, traceback\n")


def import_module(name):
    """Import a dotted module and return it (django.utils.importlib is 1.1+)."""
    __import__(name)
    return sys.modules[name]

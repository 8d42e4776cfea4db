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


def get_models(app_module=None):
    """The installed models (of ``app_module``, a models module, if given):
    django.apps from Django 1.7, django.db.models.get_models before."""
    try:
        from django.apps import apps
    except ImportError:
        from django.db.models import get_apps, get_models as old_get_models
        if app_module is None:   # the installed apps' models only
            return [model for app in get_apps() for model in old_get_models(app)]
        return old_get_models(app_module)
    models = apps.get_models()
    if app_module is not None:
        models = [m for m in models if m.__module__ == app_module.__name__]
    return models


def load_all_models():
    """Import every installed app's models module."""
    try:
        from django.apps import apps
    except ImportError:
        from django.db.models import get_apps
        get_apps()
        return
    apps.get_models()


def command_options(base, options):
    """A management command's options: ``option_list`` (optparse, Django up
    to 1.9) when ``base`` has one; add_arguments() takes ``options`` from 1.8."""
    if not hasattr(base, 'option_list'):
        return None
    from optparse import make_option
    return base.option_list + tuple([make_option(flag, **kw) for flag, kw in options])


def argument_names(function):
    """(argument names, whether it takes **keywords) of a function or method."""
    import inspect
    if hasattr(inspect, 'getfullargspec'):
        spec = inspect.getfullargspec(function)
        return spec.args, spec.varkw is not None
    spec = inspect.getargspec(function)
    return spec.args, spec.keywords is not None

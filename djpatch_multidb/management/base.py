"""MultiDBCommand: one spelling of a management command for Django 1.0 to 4.2."""
from django.core.management.base import BaseCommand

from djpatch_multidb.base import versions
from djpatch_multidb.base.compat import command_options


class MultiDBCommand(BaseCommand):
    """A command with ``OPTIONS`` [(flag, keyword arguments)]: optparse's
    option_list where Django reads it (up to 1.9), argparse's add_arguments()
    from 1.8; and no start-up model checks."""
    OPTIONS = []
    args = ''
    # Django up to 1.6 reads the first, 1.7 and later the second (1.7 and 1.8
    # refuse a command that sets both).
    if versions.feature('command_checks') == 'requires_system_checks':
        requires_system_checks = []
    else:
        requires_model_validation = False

    @property
    def option_list(self):
        return command_options(BaseCommand, self.OPTIONS) or ()

    def add_arguments(self, parser):
        for flag, kwargs in self.OPTIONS:
            parser.add_argument(flag, **kwargs)

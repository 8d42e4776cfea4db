"""Tables per database: each alias gets the tables of the models that live there.

A model lives on the alias MULTIDB_MODELS names, on every shard of its group,
or on 'default'.
A router's allow_syncdb(db, model) (or allow_migrate, the later name) has the
first word.  Replicas get no tables of their own: replication fills them.

sync() is what Django's syncdb does, alias by alias: the apps' management
modules imported (their post_syncdb handlers make content types,
permissions, the example.com Site), the tables, the post_syncdb signal, the
apps' custom SQL, the indexes and the initial_data fixtures, each on the alias
its models live on.
"""
import re
import sys

from django.core.management.color import no_style

from djpatch_multidb.base import config
from djpatch_multidb.base.compat import ask, get_models, import_module
from djpatch_multidb.context import selector
from djpatch_multidb.routing import precedence


def is_replica(alias):
    cfg = config.current()
    for replicas in cfg.replicas.values():
        if alias in replicas:
            return True
    return False


def belongs(model, alias):
    """Whether ``model``'s table belongs on ``alias``."""
    cfg = config.current()
    answer = precedence.ask_table_routers(cfg, alias, model)
    if answer is not None:
        return answer
    return precedence.placed_on(cfg, model, alias)


def models_for(alias):
    return [model for model in get_models() if belongs(model, alias)]


def create_tables(alias, verbosity=1, out=None, models=None, constraints=True, indexes=True):
    """Create the missing tables of the models that live on ``alias`` (or of
    ``models``); returns the models whose tables were created.  Foreign-key
    constraints are made only between tables created on ``alias`` (none with
    constraints=False)."""
    return selector.run_in(alias, None, _create_tables, alias, verbosity, out, models,
                           constraints, indexes)


def import_management_modules():
    """Import each installed app's management module, as Django's syncdb does,
    so that its post_syncdb handlers are connected.  A missing module is fine;
    an ImportError raised inside one is not."""
    from django.conf import settings
    for app_name in settings.INSTALLED_APPS:
        try:
            import_module(app_name + '.management')
        except ImportError:
            message = str(sys.exc_info()[1])
            if not message.startswith('No module named') or 'management' not in message:
                raise


def sync(aliases, verbosity=1, interactive=False, out=None, tables_for=None):
    """Django's syncdb for each of ``aliases``, each with the models that live
    there (``tables_for``: {alias: models} where another set is wanted, as for
    a replica that gets its primary's tables).  Every alias gets its tables
    first; then, alias by alias, the post_syncdb signal for the models created
    there, their custom SQL and indexes, and the initial_data fixtures.
    Returns {alias: models created}."""
    import_management_modules()
    tables_for = tables_for or {}
    created = {}
    for alias in aliases:
        created[alias] = create_tables(alias, verbosity, out, models=tables_for.get(alias),
                                       indexes=False)
    for alias in aliases:
        if alias in tables_for:     # a copy of another alias's tables: no data of its own
            _finish_tables(alias, created[alias], verbosity, out)
            continue
        _on_alias(alias, _post_syncdb, created[alias], verbosity, interactive)
        _finish_tables(alias, created[alias], verbosity, out)
        _on_alias(alias, _initial_data, verbosity)
    return created


def flush(aliases, verbosity=1, interactive=False):
    """Django's flush for each of ``aliases``: every table of an installed
    model emptied there, then, as after syncdb, the post_syncdb signal for
    the models that live there and the initial_data fixtures.  Returns
    whether it flushed (False: the user said no)."""
    import_management_modules()
    if interactive:
        names = ', '.join(['%r (%s)' % (alias, config.current().databases[alias].describe())
                           for alias in aliases])
        answer = ask("You have requested a flush of the databases %s.\n"
                     "This will IRREVERSIBLY DESTROY all data currently in them,\n"
                     "and return each table to the state it was in after syncdb.\n"
                     "Are you sure you want to do this?\n\n"
                     "    Type 'yes' to continue, or 'no' to cancel: " % names)
        if answer != 'yes':
            sys.stdout.write('Flush cancelled.\n')
            return False
    for alias in aliases:
        selector.run_in(alias, None, _flush_tables, alias)
    for alias in aliases:
        _on_alias(alias, _post_syncdb, models_for(alias), verbosity, interactive)
        _on_alias(alias, _initial_data, verbosity)
    return True


def _flush_tables(alias):
    from django.core.management.base import CommandError
    from django.db import connection, transaction
    # Django's sql_flush(only_django=True), but the sequences too only of the
    # tables there (MySQL resets each one with an ALTER TABLE of its table).
    introspection = connection.introspection
    tables = introspection.django_table_names(only_existing=True)
    sequences = [sequence for sequence in introspection.sequence_list()
                 if sequence['table'] in tables]
    statements = connection.ops.sql_flush(no_style(), tables, sequences)
    try:
        cursor = connection.cursor()
        for statement in statements:
            cursor.execute(statement)
    except Exception:
        transaction.rollback_unless_managed()
        raise CommandError("Database %r couldn't be flushed: %s (manage.py sqlflush "
                           "--database=%s shows the SQL)" % (alias, sys.exc_info()[1], alias))
    transaction.commit_unless_managed()


def _on_alias(alias, func, *args):
    """Call ``func`` with the models that live on ``alias`` going there (a
    shard alias's own group included) and raw SQL where it always goes."""
    return selector.run_for_models(alias, set(models_for(alias)), func, *args)


def _post_syncdb(created, verbosity, interactive):
    from django.core.management.sql import emit_post_sync_signal
    emit_post_sync_signal(set(created), verbosity, interactive)


def _initial_data(verbosity):
    from django.core.management import call_command
    call_command('loaddata', 'initial_data', verbosity=verbosity)


def _finish_tables(alias, created, verbosity, out):
    """The apps' custom SQL (sql/*.sql) and the indexes of the models created on ``alias``."""
    selector.run_in(alias, None, _custom_sql_and_indexes, alias, created, verbosity, out)


def _custom_sql_and_indexes(alias, created, verbosity, out):
    from django.core.management.sql import custom_sql_for_model
    from django.db import connection, transaction
    style = no_style()
    for kind, statements_for in (('custom SQL', custom_sql_for_model),
                                 ('index', connection.creation.sql_indexes_for_model)):
        for model in created:
            statements = statements_for(model, style)
            if not statements:
                continue
            if verbosity >= 1 and out is not None:
                out.write('%s: installing %s for %s.%s model\n'
                          % (alias, kind, model._meta.app_label, model._meta.object_name))
            cursor = connection.cursor()
            try:
                for statement in statements:
                    cursor.execute(statement)
            except Exception:
                sys.stderr.write('Failed to install %s for %s.%s model on %r: %s\n'
                                 % (kind, model._meta.app_label, model._meta.object_name,
                                    alias, sys.exc_info()[1]))
                transaction.rollback_unless_managed()
            else:
                transaction.commit_unless_managed()


_REFERENCES = re.compile(r'\bREFERENCES\s+[`"]?([^`"\s(]+)', re.I)


def _references_elsewhere(statement, tables):
    """Whether ``statement`` adds a foreign-key constraint (ALTER TABLE ... ADD
    CONSTRAINT ... REFERENCES t) to a table ``t`` that this database lacks."""
    if not statement.upper().startswith('ALTER TABLE'):
        return False
    match = _REFERENCES.search(statement)
    return match is not None and match.group(1) not in tables


def _create_tables(alias, verbosity, out, wanted, constraints, indexes):
    from django.db import connection, transaction
    style = no_style()
    cursor = connection.cursor()
    tables = connection.introspection.table_names()
    seen = connection.introspection.installed_models(tables)
    created = []
    pending = {}
    if wanted is None:
        wanted = models_for(alias)
    for model in wanted:
        if connection.introspection.table_name_converter(model._meta.db_table) in tables:
            continue
        sql, references = connection.creation.sql_create_model(
            model, style, constraints and seen or set())
        seen.add(model)
        created.append(model)
        if constraints:
            for refto, refs in references.items():
                pending.setdefault(refto, []).extend(refs)
                if refto in seen:
                    sql.extend(connection.creation.sql_for_pending_references(refto, style, pending))
            sql.extend(connection.creation.sql_for_pending_references(model, style, pending))
        if verbosity >= 1 and out is not None:
            out.write('%s: creating table %s\n' % (alias, model._meta.db_table))
        for statement in sql:
            cursor.execute(statement)
        tables.append(connection.introspection.table_name_converter(model._meta.db_table))
    for model in created:
        for statement in connection.creation.sql_for_many_to_many(model, style):
            if _references_elsewhere(statement, tables):
                continue    # a join table's constraint to a table of another database
            cursor.execute(statement)
        if indexes:
            for statement in connection.creation.sql_indexes_for_model(model, style):
                cursor.execute(statement)
    transaction.commit_unless_managed()
    return created

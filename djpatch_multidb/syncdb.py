"""Tables per database: each alias gets the tables of the models that live there.

A model lives on the alias MULTIDB_MODELS names, on every shard of its group,
or on 'default'.
A router's allow_syncdb(db, model) (or allow_migrate, the later name) has the
first word.  Replicas get no tables of their own: replication fills them.
"""
from django.core.management.color import no_style

from djpatch_multidb import config, routing, selector


def is_replica(alias):
    cfg = config.current()
    for replicas in cfg.replicas.values():
        if alias in replicas:
            return True
    return False


def belongs(model, alias):
    """Whether ``model``'s table belongs on ``alias``."""
    cfg = config.current()
    answer = routing.ask_table_routers(cfg, alias, model)
    if answer is not None:
        return answer
    return routing.placed_on(cfg, model, alias)


def models_for(alias):
    from djpatch_multidb.compat import get_models
    return [model for model in get_models() if belongs(model, alias)]


def create_tables(alias, verbosity=1, out=None, models=None, constraints=True):
    """Create the missing tables of the models that live on ``alias`` (or of
    ``models``); returns the models whose tables were created.  Foreign-key
    constraints are made only between tables created on ``alias`` (none with
    constraints=False)."""
    return selector.run_in(alias, None, _create_tables, alias, verbosity, out, models,
                           constraints)


def _create_tables(alias, verbosity, out, wanted, constraints):
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
            cursor.execute(statement)
        for statement in connection.creation.sql_indexes_for_model(model, style):
            cursor.execute(statement)
    transaction.commit_unless_managed()
    return created

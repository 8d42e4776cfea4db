"""Where an operation goes: precedence (queryset, context, instance, placement,
default), replicas (reads, pins, failover), rawsql (raw SQL by the tables it
names), proxy (django.db.connection and the queryset connection stand-ins),
syncdb (which tables each alias holds).
"""

"""The path operators call after a crash: djpatch_multidb.xa.recover().

Two-phase commit itself lives in djpatch_multidb.db.xa.
"""
from djpatch_multidb.db.xa import OutcomeUnknown, Recovery, recover

__all__ = ['recover', 'OutcomeUnknown', 'Recovery']

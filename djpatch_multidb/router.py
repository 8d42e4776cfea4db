"""The path users write into DATABASE_ROUTERS: 'djpatch_multidb.router.MultiDBRouter'.

The router itself lives in djpatch_multidb.native.router.
"""
from djpatch_multidb.native.router import MultiDBRouter

__all__ = ['MultiDBRouter']

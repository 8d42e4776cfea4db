"""The path users write into MIDDLEWARE_CLASSES / MIDDLEWARE:
'djpatch_multidb.middleware.PinningMiddleware'.

The middleware itself lives in djpatch_multidb.api.middleware.
"""
from djpatch_multidb.api.middleware import COOKIE_NAME, PinningMiddleware

__all__ = ['PinningMiddleware', 'COOKIE_NAME']

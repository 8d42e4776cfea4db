"""Django 1.2 and later: settling the settings once (settle), the router
(router.MultiDBRouter), the write guard inside readonly() (writeguard), and
their registry (registry).

Never imports djpatch_multidb.patched.
"""

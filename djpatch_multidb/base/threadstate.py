"""The library's per-thread state, in one place: one threading.local.

Each module keeps its attributes on ``local`` under names of its own:

  stack, tops, lock, marks      context/selector.py: the open blocks (stack,
                                tops and lock are there from the thread's
                                start: on_new_thread())
  db_work                       db/connections.py: the aliases a commit or a
                                rollback must reach (pending, written, broken)
  xa_branches                   db/xa.py: the XA branches of the transaction
  replica_choices, replica_pins, replica_request
                                routing/replicas.py: replicas chosen, primaries
                                pinned after writes, the request's own pins
  tx_blocks, tx_following       api/transactions.py: the blocks that follow
                                the selector (Django 1.2+)
  ids_wrappers, ids_generation  api/ids.py: the ticket connections
  config_busy                   base/config.py: the model labels being checked

A Django transaction block object (api/transactions.FollowingBlock) keeps
which alias it entered in each thread on its own threading.local: that is
state of the block object, not of the thread.
"""
import threading

# Functions that set up a thread's attributes before its first use of
# ``local`` (selector's empty stack): the hot path then reads them without
# looking out for a thread that has none yet.
_starts = []


class _Local(threading.local):

    def __init__(self):
        for start in _starts:
            start()


def on_new_thread(start):
    """Call ``start()`` in every thread before it first uses ``local``; in this
    thread, now."""
    _starts.append(start)
    start()


local = _Local()

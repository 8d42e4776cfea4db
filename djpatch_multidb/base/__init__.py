"""The bottom layer: what every other layer may use, and which uses none of them.

compat (Python 2/3 and Django helpers), versions (per-version differences as
data), errors (the library's exceptions), config (the settings, read once),
patcher (patch records and the import hook), state (where an instance came
from), shardkeys (key functions: which shard a key belongs to).
"""

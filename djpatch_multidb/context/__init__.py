"""The thread's blocks: using(), using_shard(), readonly(), resharding() and
the library's own frames (selector), one stack per thread.
"""

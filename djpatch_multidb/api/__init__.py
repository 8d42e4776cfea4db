"""What application code calls: managers (MultiDBManager, .shard(),
.readonly()), allshards (queries over every shard), ids (ShardedIdField),
transactions (atomic() over several aliases), middleware (PinningMiddleware).
"""

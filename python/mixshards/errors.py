"""The one error type of mixshards."""


class ShardError(Exception):
    """A damaged, incomplete or unsupported shard file or directory.

    The message is one line naming the file and, where there is one, the chunk
    or field: ``"<path>: chunk 3: rawCRC mismatch (…)"``.
    """

"""Input and output: video and frames, the official data directory, atomic writes, checkpoints."""

from omnimotion.io.atomic import OutputNotWritableError
from omnimotion.io.datadir import CorruptFileError, DataDir, DataDirError

__all__ = ["DataDir", "DataDirError", "CorruptFileError", "OutputNotWritableError"]

"""Expected failures.

Every failure a user can cause or fix is a `FacefillError` with a one-line message that names the
file (or option) and says what to do. The CLI prints the message without a traceback (unless
``--debug``) and exits with ``exit_code``. Anything that is not a FacefillError is a bug.
"""

from __future__ import annotations


class FacefillError(Exception):
    """Base class: an expected, user-fixable failure with a one-line message."""

    exit_code = 1


class UsageError(FacefillError):
    """Bad command-line arguments or option combinations."""

    exit_code = 2


class ImageReadError(FacefillError):
    """An image file cannot be decoded (corrupt, truncated, empty, unsupported, too large)."""


class MaskError(FacefillError):
    """A mask is missing, unreadable, or does not fit its image."""


class OutputError(FacefillError):
    """An output cannot be written (would overwrite an input, unwritable folder, ...)."""


class WeightsError(FacefillError):
    """A checkpoint is missing, unverifiable, unsafe, or does not fit its architecture."""


class ModelError(FacefillError):
    """A model name is unknown or a model cannot run on the given input."""


class FaceNotFoundError(FacefillError):
    """No face (or not the requested face) was found in an image."""


class DeviceError(FacefillError):
    """The requested device cannot be used."""

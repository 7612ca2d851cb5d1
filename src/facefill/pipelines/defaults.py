"""Defaults shared by the inpaint CLI and library callers (one place to change them)."""

# The model `facefill inpaint` uses without --model. Classical for now; the trained
# `facefill-lite` replaces it once its weights ship.
DEFAULT_INPAINT_MODEL = "telea"

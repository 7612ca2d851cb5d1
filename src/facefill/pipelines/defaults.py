"""Defaults shared by the inpaint CLI and library callers (one place to change them)."""

# The model `facefill inpaint` uses without --model: facefill's own face model, shipped inside the
# package, so a fresh install gives a learned face fill with no download.
DEFAULT_INPAINT_MODEL = "facefill-lite"

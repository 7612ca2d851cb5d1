"""Defaults shared by the inpaint CLI and library callers (one place to change them)."""

# The model `facefill inpaint` uses without --model: facefill's own face model, shipped inside the
# package, so a fresh install gives a learned face fill with no download. v2 draws eyes, mouths and
# chins into region holes where v1 paints skin (issue 15); v1 stays available as `facefill-lite`.
DEFAULT_INPAINT_MODEL = "facefill-lite-v2"

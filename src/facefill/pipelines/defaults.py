"""Defaults shared by the inpaint CLI and library callers (one place to change them)."""

# The model `facefill inpaint` uses without --model: facefill's own face model, shipped inside the
# package, so a fresh install gives a learned face fill with no download. v2 draws eyes, mouths and
# chins into region holes where v1 paints skin (issue 15); v1 stays available as `facefill-lite`.
DEFAULT_INPAINT_MODEL = "facefill-lite-v2"

# The model used without --model when --exemplar or --attribute asks for a conditioned fill: the
# plain default cannot honour either, and SAC-GAN ships inside the package too (issue 14).
DEFAULT_CONDITIONED_MODEL = "sacgan"


def default_inpaint_model(*, exemplar: bool = False, attribute: bool = False) -> str:
    """The inpainter `facefill inpaint` picks when --model is not given."""
    return DEFAULT_CONDITIONED_MODEL if (exemplar or attribute) else DEFAULT_INPAINT_MODEL

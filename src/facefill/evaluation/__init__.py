"""`facefill eval`: fixed image–mask pairs, metrics per pair and per hole-ratio bin, reports."""

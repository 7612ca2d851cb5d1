"""Reading and writing images and masks: `facefill.io.images`, `facefill.io.masks`, `facefill.io.files`."""

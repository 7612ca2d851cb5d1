"""facefill: face inpainting and face attribute editing.

Importing the package is cheap: heavy libraries (torch, cv2, dlib) are imported by the modules
that need them, never here.
"""

__version__ = "0.1.0"

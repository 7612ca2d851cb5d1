"""Faces: detection, landmarks, FFHQ alignment and its exact inverse, region masks.

`find.find_faces` (detect + select + 68 landmarks, rotation-robust), `align.align_face` (crop +
exact crop->photo matrix), `paste.paste_back` (inverse warp with feathered blend),
`regions.LandmarkRegionProvider` / `regions.ParserRegionProvider` (named region masks).
Importing this package is cheap; import the submodules you need (they load cv2 and dlib).
"""

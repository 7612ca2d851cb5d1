"""`synthesize-discrete`: SD-GAN's semantic prior basis + offset in W+, on aligned faces.

    DiscretePipeline(DiscreteNetworks(...), {"glasses": direction, ...})(DiscreteRequest(...))
        -> DiscreteResult

See pipeline.py (flow and the two stacks), formula.py (test.py's formula), directions.py (files),
accessories.py (regions and templates), canonical.py (unsup3d input), derive.py (InterFaceGAN-style
boundaries), loading.py (building a stack from weights).
"""

from facefill.pipelines.discrete.pipeline import (
    DiscreteNetworks,
    DiscretePipeline,
    DiscreteRequest,
    DiscreteResult,
)

__all__ = ["DiscreteNetworks", "DiscretePipeline", "DiscreteRequest", "DiscreteResult"]

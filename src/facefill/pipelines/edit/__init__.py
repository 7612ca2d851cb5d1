"""`edit`: MaskFaceGAN attribute editing on aligned faces, on already-built networks.

    run_edit(EditNetworks(generator, classifier, parser, lpips, encoder),
             EditRequest(faces, ("smiling",), generators, schedule=preset("fast"))) -> EditResult

schedule.py (config.yml numbers, presets), attributes.py (§1.4 table), masks.py (soft masks,
parsers), losses.py (§1.8), render.py (G with explicit noise, early stop), loop.py (§1.7, §1.9),
networks.py (modules, mean latent), result.py (request/result types).
"""

from facefill.pipelines.edit.attributes import AttributeSpec, attribute_spec
from facefill.pipelines.edit.loop import run_edit
from facefill.pipelines.edit.masks import EditMasks, bisenet_parser, maskfacegan_parser
from facefill.pipelines.edit.networks import EditNetworks, e4e_encoder, mean_latent
from facefill.pipelines.edit.result import EditRequest, EditResult, StepLog
from facefill.pipelines.edit.schedule import PRESETS, Schedule, preset

__all__ = [
    "PRESETS", "AttributeSpec", "EditMasks", "EditNetworks", "EditRequest", "EditResult", "Schedule",
    "StepLog", "attribute_spec", "bisenet_parser", "e4e_encoder", "maskfacegan_parser", "mean_latent",
    "preset", "run_edit",
]

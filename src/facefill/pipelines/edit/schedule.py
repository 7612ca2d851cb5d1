"""The edit schedule as data: MaskFaceGAN's `config.yml` numbers, with presets and overrides.

Why: step counts and phase boundaries decide both quality and cost (spec edit.md §1.1, §1.7, §1.9);
keeping them in one frozen object lets the CLI, the sidecar and the tests name the same fields.
Field names mirror `config.yml` with dots -> underscores (`steps.latent` -> `steps_latent`,
`loss.start_steps.classf` -> `start_steps_classf`); `Schedule.override` takes either spelling.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from facefill.errors import UsageError


@dataclass(frozen=True)
class Schedule:
    """Every number of the optimisation. Boundaries are absolute iteration indices, as in the reference."""

    steps_latent: int = 1000          # steps.latent: the latent loop runs i = start .. steps_latent-1
    steps_noise: int = 500            # steps.noise: the noise phase runs steps_noise + 1 iterations
    e4e_start_step: int = 300         # the loop starts here with an e4e initialisation
    start_steps_classf: int = 500     # loss.start_steps.classf (local mode; global starts at 0)
    start_steps_seg: int = 500        # loss.start_steps.seg; also the dynamic-masking start
    start_steps_mse: int = 0          # loss.start_steps.mse
    start_steps_n_loss: int = 0       # loss.start_steps.n_loss
    dynamic_masking: bool = True      # dynamic_masking
    dynamic_masking_iters: int = 200  # dynamic_masking_iters: window [seg, seg + iters)
    lr_latent: float = 0.001          # optimizer.lr_latent
    lr_noise: float = 0.1             # optimizer.lr_noise
    reinit: bool = True               # optimizer.reinit: new Adam at classf start (local only)
    weight_classf: float = 0.005      # loss.weights.*
    weight_mse: float = 2.0
    weight_seg: float = 0.5
    weight_n_loss: float = 1.0
    weight_size: float = 1.0
    weight_lpips: float = 0.03
    smoothing: float = 0.05           # --smoothing: target probability |target - smoothing|
    loss_resolution: int = 0          # 0: losses on the full rendering; else the generator renders
    #                                   only up to this size during the loop (fast mode)

    @property
    def dynamic_masking_end(self) -> int:
        """First iteration after the dynamic-masking window; the noise is re-randomised here."""
        return self.start_steps_seg + self.dynamic_masking_iters

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def override(self, **changes: Any) -> Schedule:
        """A copy with fields changed; keys may use config.yml dots (`steps.latent=10`)."""
        names = {f.name for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            name = key.replace("loss.start_steps.", "start_steps_").replace("loss.weights.", "weight_")
            name = name.replace("optimizer.", "").replace(".", "_")
            if name not in names:
                raise UsageError(f"unknown schedule field {key!r}; known: {', '.join(sorted(names))}")
            if value is not None:
                clean[name] = type(getattr(self, name))(value)
        return replace(self, **clean)


PAPER = Schedule()
# Half the iterations, boundaries scaled with them: the GPU-friendly everyday setting.
DEFAULT = Schedule(steps_latent=500, steps_noise=200, e4e_start_step=150, start_steps_classf=250,
                   start_steps_seg=250, dynamic_masking_iters=100)
# CPU minutes: few steps, no noise phase, the loop renders (and scores) at 256 px; lr raised so
# the fewer steps still move the latent. The final image is rendered at full size.
FAST = Schedule(steps_latent=40, steps_noise=0, e4e_start_step=12, start_steps_classf=16,
                start_steps_seg=16, dynamic_masking_iters=8, lr_latent=0.01, loss_resolution=256)
PRESETS: dict[str, Schedule] = {"paper": PAPER, "default": DEFAULT, "fast": FAST}


def preset(name: str, **overrides: Any) -> Schedule:
    """A named preset (`paper`, `default`, `fast`) with any fields overridden."""
    if name not in PRESETS:
        raise UsageError(f"--quality {name!r} is not one of {', '.join(PRESETS)}")
    return PRESETS[name].override(**overrides)

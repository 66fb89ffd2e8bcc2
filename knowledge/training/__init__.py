"""Training: BatchNorm and SyncBN, warmup, iterations vs epochs, hooks, checkpoints, gradients.

Everything here is public through ``knowledge.training``.
"""

from knowledge.training.batchnorm import SyncBatchNorm, convert_sync_batchnorm
from knowledge.training.checkpoint import (
    CheckpointError,
    LoadResult,
    ResumeState,
    load_weights,
    resume,
    save_checkpoint,
)
from knowledge.training.hooks import (
    CheckpointHook,
    FeatureExtractor,
    Hook,
    LoggerHook,
    LrRecorderHook,
    ShapeRow,
    trace_shapes,
)
from knowledge.training.iter_epoch import (
    ResumableSampler,
    Runner,
    epochs_to_iters,
    iters_per_epoch,
    iters_to_epochs,
)
from knowledge.training.vanishing_gradients import (
    DEEP_MLP_VARIANTS,
    GradNormRecorder,
    layer_grad_norms,
    make_deep_mlp,
)
from knowledge.training.warmup import (
    WarmupCosineLR,
    WarmupPolyLR,
    WarmupScheduler,
    WarmupStepLR,
    warmup_factor,
)

__all__: list[str] = [
    "DEEP_MLP_VARIANTS",
    "CheckpointError",
    "CheckpointHook",
    "FeatureExtractor",
    "GradNormRecorder",
    "Hook",
    "LoadResult",
    "LoggerHook",
    "LrRecorderHook",
    "ResumableSampler",
    "ResumeState",
    "Runner",
    "ShapeRow",
    "SyncBatchNorm",
    "WarmupCosineLR",
    "WarmupPolyLR",
    "WarmupScheduler",
    "WarmupStepLR",
    "convert_sync_batchnorm",
    "epochs_to_iters",
    "iters_per_epoch",
    "iters_to_epochs",
    "layer_grad_norms",
    "load_weights",
    "make_deep_mlp",
    "resume",
    "save_checkpoint",
    "trace_shapes",
    "warmup_factor",
]

"""The end-to-end tutorial: a synthetic shapes dataset and a small segmentor trained on a CPU.

Everything here is public through ``knowledge.tutorial``.
"""

import warnings

from knowledge.tutorial.shapes import (
    CLASSES,
    IGNORE_INDEX,
    IMAGE_SIZE,
    NUM_CLASSES,
    ShapesDataset,
    class_pixel_counts,
    colorize,
    majority_baseline,
    normalize,
    render_shapes,
)
from knowledge.tutorial.train import (
    EvalHook,
    ProgressBar,
    RunCheckpointHook,
    TinyCNN,
    TrainConfig,
    TrainResult,
    TutorialRun,
    build_model,
    evaluate,
    fit,
    format_metrics,
    main,
    model_config,
    predict,
    prefetch_tutorial_run,
    tutorial_run,
)

# ``python -m knowledge.tutorial.train`` runs a module that this package has already imported,
# and runpy warns about it. train.py hands over to the imported module before defining
# anything (see the top of that file), so the warning does not apply.
warnings.filterwarnings(
    "ignore",
    message=r"'knowledge\.tutorial\.train' found in sys\.modules",
    category=RuntimeWarning,
)

__all__: list[str] = [
    "CLASSES",
    "IGNORE_INDEX",
    "IMAGE_SIZE",
    "NUM_CLASSES",
    "EvalHook",
    "ProgressBar",
    "RunCheckpointHook",
    "ShapesDataset",
    "TinyCNN",
    "TrainConfig",
    "TrainResult",
    "TutorialRun",
    "build_model",
    "class_pixel_counts",
    "colorize",
    "evaluate",
    "fit",
    "format_metrics",
    "main",
    "majority_baseline",
    "model_config",
    "normalize",
    "predict",
    "prefetch_tutorial_run",
    "render_shapes",
    "tutorial_run",
]

import builtins
import pickle
import tempfile
from pathlib import Path

import torch
from torch import nn

from knowledge.training import CheckpointError, load_weights, save_checkpoint

model = nn.Linear(256, 256)
with tempfile.TemporaryDirectory() as tmp:
    good = save_checkpoint(Path(tmp) / "iter_4000.pth", model=model)
    # What an interrupted copy (or a non-atomic save that was killed) leaves behind
    bad = Path(tmp) / "iter_8000.pth"
    bad.write_bytes(good.read_bytes()[:100_000])

    try:
        torch.load(bad, weights_only=True)
    except (RuntimeError, OSError) as err:
        print("torch.load   :", f"{type(err).__name__}: {err}".split(". ")[0])
    try:
        load_weights(bad, model)
    except CheckpointError as err:
        print("load_weights :", str(err).replace(tmp, "<dir>"))

    # A pickle can name any callable to run while it is being read. This one would only
    # print, but it could as well call os.system.
    class Payload:
        def __reduce__(self):
            return (builtins.print, ("this ran while unpickling!",))

    evil = Path(tmp) / "evil.pth"
    evil.write_bytes(pickle.dumps({"state_dict": {}, "x": Payload()}, protocol=2))
    try:
        load_weights(evil, model)
    except CheckpointError as err:
        print("pickled code :", str(err).replace(tmp, "<dir>"))

import torch

from knowledge.metrics import SegmentationMetric
from knowledge.models import swin_t_upernet_config
from knowledge.registry import MODELS

torch.manual_seed(0)
K, IGNORE = 4, 255
cfg = swin_t_upernet_config(num_classes=K)  # scaled down as before
cfg["backbone"].update(embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4))
cfg["decode_head"].update(in_channels=(16, 32, 64, 128), channels=32)
cfg["auxiliary_head"].update(in_channels=64, channels=16)
model = MODELS.build(cfg).eval()

untrained = SegmentationMetric(num_classes=K, ignore_index=IGNORE)
dummy = SegmentationMetric(num_classes=K, ignore_index=IGNORE)
for _ in range(3):  # three validation batches
    img = torch.randn(2, 3, 32, 48)
    target = torch.randint(0, K, (2, 32, 48))
    target[:, :4] = IGNORE
    with torch.no_grad():
        logits = model.inference(img)  # test_cfg decides: whole or slide
    untrained.update(logits, target)  # logits (B, K, H, W): argmax over K inside
    # A dummy "prediction": the ground truth with 1 pixel in 5 replaced by class 0
    # (ignored pixels stay 255 in pred too: the metric skips them by the target anyway)
    pred = torch.where(torch.rand(target.shape) < 0.2, 0, target)
    dummy.update(pred, target)

print(f"{'predictor':<22} {'aAcc':>6} {'mIoU':>6} {'mAcc':>6}   IoU per class")
for name, metric in (("untrained model", untrained), ("dummy (80% copied)", dummy)):
    r = metric.compute()  # fractions; mmseg prints the same numbers in percent
    iou = " ".join(f"{100 * v:5.1f}" for v in r["IoU"])
    print(
        f"{name:<22} {100 * r['aAcc']:6.2f} {100 * r['mIoU']:6.2f} {100 * r['mAcc']:6.2f}   {iou}"
    )

from knowledge.tutorial import (
    CLASSES,
    NUM_CLASSES,
    ShapesDataset,
    class_pixel_counts,
    majority_baseline,
)

val = ShapesDataset("val")
baseline = majority_baseline(val.labels)  # predict the most frequent class everywhere
counts = class_pixel_counts(val.labels)
share = counts.max().item() / counts.sum().item()

print(f"majority class: {CLASSES[baseline['class']]} ({100 * share:.2f}% of the valid pixels)")
print(f"aAcc = {baseline['aAcc']:.4f}   (pixel accuracy: the share itself)")
print(f"mIoU = {baseline['mIoU']:.4f}   (= {share:.4f} / {NUM_CLASSES} classes)")

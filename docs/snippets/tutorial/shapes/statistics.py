from knowledge.tutorial import CLASSES, IGNORE_INDEX, ShapesDataset, class_pixel_counts

val = ShapesDataset("val")  # 400 images, rendered once per process and cached
counts = class_pixel_counts(val.labels)  # ignored pixels are not counted
print(f"{'class':<11}{'pixels':>9}{'share':>8}")
for name, count in zip(CLASSES, counts.tolist(), strict=True):
    print(f"{name:<11}{count:>9,}{100 * count / counts.sum().item():>7.2f}%")

ignored = (val.labels == IGNORE_INDEX).sum().item()
with_patch = (val.labels == IGNORE_INDEX).flatten(1).any(1).sum().item()
print(f"\nignored pixels: {ignored:,} ({100 * ignored / val.labels.numel():.2f}% of all)")
print(f"images with an ignore region: {with_patch} of {len(val)}")

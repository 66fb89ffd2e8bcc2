from knowledge.training import iters_per_epoch, iters_to_epochs

# mmseg's standard schedules: (dataset, training images N, GPUs W, images per GPU b, iters T)
schedules = [
    ("ADE20K", 20210, 4, 4, 160_000),  # configs named *_4xb4-160k_ade20k-512x512
    ("ADE20K", 20210, 8, 2, 160_000),  # the same total batch of 16 on 8 GPUs
    ("ADE20K", 20210, 4, 4, 80_000),
    ("Cityscapes", 2975, 4, 2, 80_000),  # *_4xb2-80k_cityscapes-512x1024
    ("Cityscapes", 2975, 4, 2, 40_000),
]
print("dataset        N   W x b   iters T  iters/epoch L   epochs T/L   T*W*b/N")
for name, n, w, b, t in schedules:
    length = iters_per_epoch(n, b, world_size=w)
    exact = iters_to_epochs(t, iters_per_epoch=length)
    naive = t * w * b / n
    print(f"{name:<10} {n:>6}  {w} x {b}  {t:>8}  {length:>13}  {exact:>11.2f}  {naive:>8.2f}")

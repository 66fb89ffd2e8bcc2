import torch

from knowledge.tutorial import render_shapes

images, labels = render_shapes(range(100), seed=0)
again, again_labels = render_shapes(range(100), seed=0)
other, _ = render_shapes(range(100), seed=1)
alone, _ = render_shapes([42], seed=0)  # image 42 rendered on its own

same = torch.equal(images, again) and torch.equal(labels, again_labels)
print("same seed, same tensors:      ", same)
print("another seed, other images:   ", not torch.equal(images, other))
print("image 42 alone == row 42:     ", torch.equal(alone[0], images[42]))
print("images:", images.dtype, tuple(images.shape), "  labels:", labels.dtype, tuple(labels.shape))

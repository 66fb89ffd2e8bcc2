import torch

# An ADE20K label map as stored on disk: 0 = "other" (no class), 1..150 = the classes
label = torch.tensor([[0, 1, 2], [150, 0, 255]], dtype=torch.uint8)

# mmseg's LoadAnnotations(reduce_zero_label=True), line by line
reduced = label.clone()
reduced[reduced == 0] = 255  # "other" becomes the ignore value
reduced = reduced - 1  # classes 1..150 -> 0..149; 255 -> 254
reduced[reduced == 254] = 255  # and back to 255
print("on disk :", label.tolist())
print("reduced :", reduced.tolist())
print("ignored pixels:", int((reduced == 255).sum()), "of", reduced.numel())

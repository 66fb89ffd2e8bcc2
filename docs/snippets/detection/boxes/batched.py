import torch

from knowledge.detection import batched_nms, nms

# A person and a bicycle under them: the boxes overlap a lot, but they are different objects
boxes = torch.tensor(
    [
        [10.0, 10.0, 60.0, 100.0],  # person
        [12.0, 12.0, 62.0, 98.0],  # person, a duplicate
        [8.0, 40.0, 64.0, 104.0],  # bicycle
    ]
)
scores = torch.tensor([0.9, 0.8, 0.7])
labels = torch.tensor([1, 1, 2])  # 1 = person, 2 = bicycle

print("class-agnostic nms:", nms(boxes, scores, 0.5).tolist(), " (the bicycle is gone)")
print("batched_nms       :", batched_nms(boxes, scores, labels, 0.5).tolist())

# The trick inside batched_nms: move every class to its own region of the plane
offsets = labels.to(boxes) * (boxes.max() + 1)  # 105 per class here
print("shifted boxes:")
print(boxes + offsets[:, None])

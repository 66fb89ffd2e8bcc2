import torch
import torch.nn.functional as F

from knowledge.training import DEEP_MLP_VARIANTS, GradNormRecorder, make_deep_mlp

torch.manual_seed(0)
x_all = torch.randn(1024, 32)
y_all = (x_all @ torch.randn(32, 10)).argmax(dim=1)  # labels from a random linear teacher
lr, steps = 0.05, 10
layers = ["layer1", "layer20"]

print(f"          grad norm layer1 / layer20     |ΔW| / |W| after {steps} steps")
print("variant   first step    last step        layer1     layer20")
for variant in DEEP_MLP_VARIANTS:
    torch.manual_seed(0)
    model = make_deep_mlp(variant)
    w0 = [model.get_submodule(n).linear.weight.detach().clone() for n in layers]
    ratios = []
    with GradNormRecorder(model, layers=layers) as rec:
        for _ in range(steps):
            idx = torch.randint(0, len(x_all), (64,))
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
            model.zero_grad()
            loss.backward()  # the hooks record during an ordinary training step
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad  # plain SGD: w <- w - lr * dL/dw
            (_, first), (_, last) = rec.norms
            ratios.append(first / last)
    moved = [
        float((model.get_submodule(n).linear.weight.detach() - w).norm() / w.norm())
        for n, w in zip(layers, w0, strict=True)
    ]
    print(f"{variant:9s} {ratios[0]:10.1e} {ratios[-1]:12.1e} {moved[0]:15.1e} {moved[1]:11.1e}")

import torch

# sigma'(z) from torch's own autograd, on a fine grid of z
z = torch.linspace(-8, 8, 1601, requires_grad=True)
(ds,) = torch.autograd.grad(torch.sigmoid(z).sum(), z)
print(f"max sigma'(z) = {ds.max():.4f} at z = {z[ds.argmax()]:.2f}")
for v in (1.0, 2.0, 4.0):
    s = torch.sigmoid(torch.tensor(v))
    print(f"sigma'({v:.0f}) = {s * (1 - s):.4f}")

# A chain of scalar layers h_l = sigmoid(w_l * h_{l-1}): the gradient is a product
torch.manual_seed(0)
weights = 2 * torch.randn(6, dtype=torch.float64)
x = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
h, product = x, 1.0
print()
print("layer     w_l  sigma'(z_l)  w_l*sigma'(z_l)  product so far")
for layer, w in enumerate(weights, start=1):
    h = torch.sigmoid(w * h)
    s = h.detach()
    ds = float(s * (1 - s))  # sigma'(z_l) = sigma(z_l) (1 - sigma(z_l))
    factor = float(w) * ds  # local derivative dh_l / dh_{l-1}
    product *= factor
    print(f"{layer:5d} {w:7.3f} {ds:12.4f} {factor:16.4f} {product:15.2e}")
(grad,) = torch.autograd.grad(h, x)
print(f"autograd dh_6/dx = {float(grad):.2e}")

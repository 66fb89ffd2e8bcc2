import matplotlib.pyplot as plt
import torch

from knowledge.plotting import svg

x = torch.linspace(-3, 3, 61)
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.plot(x, torch.relu(x), label="ReLU")
ax.plot(x, torch.nn.functional.leaky_relu(x, 0.1), "--", label="LeakyReLU (slope 0.1)")
ax.set(xlabel="x", ylabel="f(x)")
ax.legend()
print(svg(fig, alt="ReLU and LeakyReLU on [-3, 3]"))

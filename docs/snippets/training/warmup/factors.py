from knowledge.training import warmup_factor

# W = 10 warmup iterations starting from r = 0.1 of the learning rate
W, r = 10, 0.1
iters = [0, 1, 2, 5, 8, 9, 10, 11]
print("iteration " + " ".join(f"{i:>6}" for i in iters))
for mode in ("constant", "linear", "exp"):
    row = [warmup_factor(i, mode=mode, warmup_iters=W, warmup_ratio=r) for i in iters]
    print(f"{mode:<9} " + " ".join(f"{f:>6.3f}" for f in row))

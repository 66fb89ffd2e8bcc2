from knowledge.tutorial import tutorial_run

run = tutorial_run()  # trains once per process; every snippet on this page shares it
config, first, second = run.config, run.first, run.second

print(f"{'iter':>5}{'epoch':>6}{'loss':>8}{'lr':>10}{'val mIoU':>10}")
val_miou = {r["iter"]: r["mIoU"] for r in second.evals}
for record in second.losses:  # LoggerHook: one record per 10 iterations
    it = record["iter"]
    if it % config.eval_interval and it != first.iter:
        continue  # print the rows with a validation score, and the interruption
    score = f"{val_miou[it]:>10.4f}" if it in val_miou else f"{'-':>10}"
    print(f"{it:>5}{record['epoch']:>6}{record['loss']:>8.4f}{record['lr']:>10.2e}{score}")
    if it == first.iter:
        sampler = run.sampler_state
        print(f"----- stopped after {first.iter} iterations, saved {first.checkpoints[-1].name}")
        print(f"----- keys: {', '.join(run.checkpoint_keys)}")
        print(f"----- sampler: epoch {sampler['epoch']}, position {sampler['position']}")
        print(f"----- a new trainer resumes at iteration {second.start_iter}")

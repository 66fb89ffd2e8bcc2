import contextlib
import io

from knowledge.tutorial import main

for argv in (["--iters", "0"], ["--batch-size", "-1"], ["--resume", "runs/missing.pth"]):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            main(argv)
        except SystemExit as exit:  # argparse ends the program with status 2
            status = exit.code
    print("$ python -m knowledge.tutorial.train", " ".join(argv))
    print(stderr.getvalue().splitlines()[-1])
    print(f"(exit status {status})")

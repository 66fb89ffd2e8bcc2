from knowledge.tutorial import CLASSES, format_metrics, tutorial_run

run = tutorial_run()  # the cached run of this page
print(format_metrics(run.second.metrics))  # SegmentationMetric.compute() on 400 val images
print()
baseline = run.baseline
print(f"majority-class baseline ({CLASSES[baseline['class']]} everywhere):")
print(f"aAcc {baseline['aAcc']:.4f}   mIoU {baseline['mIoU']:.4f}")

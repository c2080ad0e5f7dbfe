"""The toy shape world of the bundled demo model: coloured shapes moving across a frame, their captions, the
held-out combinations, the evaluator that scores a generated video, and the tools and stage configs that trained
the demo model (docs/demo_model.md). An example of using the package, not part of it: nothing in `opensora`
imports it."""

"""Tools every stage uses on the models: edit hooks, eval-mode freezing, batching, reopening.

Usage::

    from dissect_report.modeltools.edit import ablate, edit, trace
    from dissect_report.modeltools.frozen import frozen
    from dissect_report.modeltools.batches import batches, concept_counts
    from dissect_report.modeltools.reopen import open_with_models, models_from_manifest

    report, models = open_with_models("report")       # the report and its checked models
    with frozen(models.generator), edit(models.generator, "layer4", ablate([3])):
        images = models.generate(models.latents(range(8), seed=2))

The models themselves (one :class:`dissect_report.models.Models`) live in
:mod:`dissect_report.models`; these modules only act on them.
"""

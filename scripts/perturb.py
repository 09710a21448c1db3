"""Rules `perturb_ner`, `perturb_re`, `perturb_ee`: every perturbation type of a task on one split."""

from pathlib import Path

from ucuie.jsonio import write_json
from ucuie.llm import make_backend
from ucuie.records import read_records, write_records
from ucuie.robustness import examples_markdown, perturb_split
from ucuie.workflow import step


def main(smk):
    settings = smk.params.settings
    backend = None
    if "llm" in settings["generators"].values():
        llm = settings["llm"]
        backbone = Path(smk.input.backbone).parent if "backbone" in smk.input.keys() else None
        backend = make_backend(llm["backend"], llm[llm["backend"]], backbone, smk.params.cache_dir)
    result = perturb_split(
        read_records(smk.input.records),
        seed=smk.params.seed,
        size=smk.params.size,
        generators=settings["generators"],
        backend=backend,
        typo_rate=settings["typo_rate"],
        max_context_words=settings["max_context_words"],
    )
    write_records(smk.output.sources, result.sources)
    for kind, path in zip(smk.params.kinds, smk.output.perturbed):
        write_records(path, result.records.get(kind, []))
    write_json(smk.output.report, result.report)
    Path(smk.output.examples).write_text(examples_markdown(smk.wildcards.dataset, result.examples), encoding="utf-8")
    for kind, entry in result.report.items():
        print(f"{kind} ({entry['backend']}): {entry['accepted']} of {entry['sources']} accepted, "
              f"{entry['not_applicable']} not applicable, {entry['rejected']} rejected {entry['rejected_by_reason']}")
    if backend is not None:
        print(f"response cache {smk.params.cache_dir}: {backend.hits} hits, {backend.misses} generated")


step(snakemake, main)  # noqa: F821

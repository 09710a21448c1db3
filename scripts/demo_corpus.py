"""Rule `demo_corpus`: generate the embedded demo corpus (deterministic, seeded)."""

from ucuie.data.demo import DemoConfig, write_demo
from ucuie.workflow import step


def main(smk):
    paths = write_demo(DemoConfig.from_dict(smk.params.demo), smk.params.out_dir)
    print(f"wrote {len(paths)} files under {smk.params.out_dir}")


step(snakemake, main)  # noqa: F821

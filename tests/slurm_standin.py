"""Stand-in SLURM commands for testing the cluster profile without a cluster.

``install(bin_dir, state_dir)`` writes executables ``sbatch``, ``squeue``, ``sacct``, ``scancel``,
``sinfo``, ``scontrol``, ``sacctmgr``, ``sshare`` and ``srun`` into ``bin_dir``; each runs this
file with its own name.  ``sbatch`` records its arguments (one JSON line per call in
``<state_dir>/sbatch.jsonl``), gives the job a number and runs the ``--wrap`` command to the end
before it answers, with ``SLURM_JOB_ID`` set, as a node would; ``sacct`` and ``squeue`` report
the states of the jobs run so far; ``srun`` drops its options and runs the command; ``sacctmgr``
and ``sshare`` list the account in ``$STANDIN_SLURM_ACCOUNT``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

COMMANDS = ("sbatch", "squeue", "sacct", "scancel", "sinfo", "scontrol", "sacctmgr", "sshare", "srun")


def install(bin_dir: Path, state_dir: Path) -> dict[str, str]:
    """Write the stand-ins; return the environment that puts them first on PATH."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    for name in COMMANDS:
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__).resolve()))} {name} \"$@\"\n")
        path.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "STANDIN_SLURM_STATE": str(state_dir)}


def read_calls(state_dir: Path) -> list[dict]:
    """Every sbatch call so far: ``{"id", "argv", "flags", "rule", "returncode"}``."""
    path = state_dir / "sbatch.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def parse_flags(argv: list[str]) -> dict[str, str]:
    """sbatch options as ``{flag: value}`` (``--mem 100`` and ``--mem=100`` alike; bare flags map to "")."""
    flags: dict[str, str] = {}
    i = 0
    while i < len(argv):
        item = argv[i]
        if item.startswith("-") and "=" in item:
            key, _, value = item.partition("=")
            flags[key] = value
        elif item.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("-") and item not in ("--parsable", "--export=ALL"):
            flags[item] = argv[i + 1]
            i += 1
        elif item.startswith("-"):
            flags[item] = ""
        i += 1
    return flags


def _state() -> Path:
    return Path(os.environ["STANDIN_SLURM_STATE"])


def _jobs() -> dict[str, dict]:
    return {call["id"]: call for call in read_calls(_state())}


def sbatch(argv: list[str]) -> int:
    flags = parse_flags(argv)
    state = _state()
    job_id = str(1000 + len(read_calls(state)))
    comment = flags.get("--comment", "")
    rule = comment.removeprefix("rule_").split("_wildcards_")[0]
    env = {**os.environ, "SLURM_JOB_ID": job_id, "SLURM_JOBID": job_id, "SLURM_CPUS_PER_TASK": flags.get("--cpus-per-task", "1")}
    log = flags.get("--output", "").replace("%j", job_id)  # sbatch's file-name pattern for the job id
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
    with open(log or os.devnull, "w") as out:
        returncode = subprocess.run(["sh", "-c", flags["--wrap"]], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=flags.get("-D")).returncode
    record = {"id": job_id, "argv": argv, "flags": flags, "rule": rule, "name": flags.get("--job-name"), "returncode": returncode}
    with (state / "sbatch.jsonl").open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(job_id)
    return 0


def _status_lines(name: str | None) -> list[str]:
    return [f"{job_id}|{'COMPLETED' if call['returncode'] == 0 else 'FAILED'}" for job_id, call in _jobs().items() if name is None or call["name"] == name]


def sacct(argv: list[str]) -> int:
    if "-o" in argv:  # the account guess: 'sacct -nu <user> -o Account%256'
        print(os.environ.get("STANDIN_SLURM_ACCOUNT", ""))
        return 0
    name = argv[argv.index("--name") + 1] if "--name" in argv else None
    print("\n".join(_status_lines(name)))
    return 0


def srun(argv: list[str]) -> int:
    command = list(argv)
    while command and command[0].startswith("-"):
        command.pop(0)
    return subprocess.run(command).returncode


def main(name: str, argv: list[str]) -> int:
    if name == "sbatch":
        return sbatch(argv)
    if name in ("sacct", "squeue"):
        return sacct(argv) if name == "sacct" else (print("\n".join(_status_lines(argv[argv.index("--name") + 1] if "--name" in argv else None))) or 0)
    if name in ("sacctmgr", "sshare"):
        print(os.environ.get("STANDIN_SLURM_ACCOUNT", ""))
        return 0
    if name == "scontrol":
        print("MinJobAge               = 300 sec")
        return 0
    if name == "sinfo":
        print("PARTITION\ngpu\ncpu")
        return 0
    if name == "srun":
        return srun(argv)
    return 0  # scancel: every job has finished by the time sbatch answers


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2:]))

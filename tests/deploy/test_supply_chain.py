"""What goes into the images (Dockerfile and the hash-pinned locks), checked without a container engine.

The base image is pinned by digest; every package comes from a lock with hashes (``--require-hashes``, wheels
only) and adeflow itself is built with no index; dependencies are installed before the sources are copied; the
worker image carries no test-only package (trustme is the simulator target's); the locks cover pyproject.toml.
Regenerating the locks is deploy/update-locks.sh (pip-compile; it needs the package index, so no test runs it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support.deployfiles import DOCKERFILE, ROOT, Stage, chain, dockerfile_stages

pytestmark = [pytest.mark.unit, pytest.mark.deploy]

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = {name: ROOT / name for name in ("requirements.lock", "requirements-sim.lock", "requirements-build.lock")}
DIGEST = re.compile(r"^[\w.\-/]+:[\w.\-]+@sha256:[0-9a-f]{64}$")
SOURCES = ("adeflow", "activities", "workflows", "worker", "azuresim")


def lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a pip-compile lock."""
    entries: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in LOCKS[name].read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            requirement = line.split(";")[0].rstrip(" \\")
            package, sep, version = requirement.partition("==")
            assert sep and version, f"{name}: {line!r} is not pinned with =="
            current = canonicalize_name(package)
            entries[current] = (version.strip(), [])
        else:
            entries[current][1].extend(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return entries


def requirements(specs: list[str]) -> dict[str, Requirement]:
    parsed = (Requirement(spec) for spec in specs)
    return {canonicalize_name(req.name): req for req in parsed}


def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in dockerfile_stages()}


def commands(stage: Stage, program: str) -> list[str]:
    """Each shell command of the stage's RUN lines that runs ``program`` (``pip install``, ...)."""
    return [cmd.strip() for run in stage.args("RUN") for cmd in run.split("&&") if cmd.strip().startswith(program)]


def test_the_base_image_is_pinned_by_digest() -> None:
    every = dockerfile_stages()
    names = {stage.name for stage in every}
    external = [stage.base for stage in every if stage.base not in names]
    assert external, "no FROM names an image"
    for image in external:
        assert DIGEST.match(image), f"FROM {image}: pin the base image by digest (name:tag@sha256:<64 hex>)"


def test_targets_worker_by_default_and_a_separate_simulator() -> None:
    every = dockerfile_stages()
    by_name = {stage.name: stage for stage in every}
    assert {"build", "runtime", "simulator", "worker"} <= by_name.keys()
    assert every[-1].name == "worker", "the last stage is what a plain `docker build` gives: the worker"
    assert by_name["worker"].base == "runtime" and by_name["simulator"].base == "runtime"
    worker = " ".join(args for stage in chain(every, "worker") for _, args in stage.instructions)
    assert "requirements-sim.lock" not in worker and "trustme" not in worker
    assert any("requirements-sim.lock" in cmd for cmd in commands(by_name["simulator"], "pip install"))


def test_every_package_is_hash_checked_and_adeflow_is_built_offline() -> None:
    text = DOCKERFILE.read_text()
    assert not re.search(r"index-url|find-links|https?://", text), "the Dockerfile must name no package index"
    installs = [cmd for stage in dockerfile_stages() for cmd in commands(stage, "pip install")]
    assert installs
    for cmd in installs:
        if "--require-hashes" in cmd:
            lock_file = re.search(r"-r\s+(\S+)", cmd)
            assert lock_file and Path(lock_file[1]).name in LOCKS, cmd
            assert "--only-binary=:all:" in cmd and "--no-deps" in cmd, f"{cmd}: wheels only, the lock is complete"
        else:
            assert "--no-index" in cmd and "--no-deps" in cmd and "/wheels/adeflow-" in cmd, (
                f"{cmd}: only adeflow's own wheel may be installed without hashes, and then with no index"
            )
    (wheel,) = commands(stages()["build"], "pip wheel")
    assert "--no-index" in wheel and "--no-build-isolation" in wheel and "--no-deps" in wheel, wheel


def test_dependencies_are_installed_before_the_sources_are_copied() -> None:
    """So that a source change rebuilds only the layers after the dependency layer."""
    for name, first_copy in (("build", lambda args: args.split()[0] in SOURCES), ("runtime", lambda a: "/wheels" in a)):
        instructions = stages()[name].instructions
        locked = next(i for i, (kw, args) in enumerate(instructions) if kw == "RUN" and "--require-hashes" in args)
        copied = next(i for i, (kw, args) in enumerate(instructions) if kw == "COPY" and first_copy(args))
        assert locked < copied, f"stage {name}: install the locked dependencies before copying the sources"
    runtime = stages()["runtime"]
    assert any("requirements.lock" in cmd and "pip check" in run for run in runtime.args("RUN") for cmd in [run])


def test_every_lock_is_pinned_with_hashes_and_names_no_index() -> None:
    for name, path in LOCKS.items():
        options = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"index-url|find-links|https?://|file:", options), f"{name} must name no package index"
        entries = lock(name)
        assert entries, name
        unhashed = sorted(package for package, (_, hashes) in entries.items() if not hashes)
        assert not unhashed, f"{name}: {unhashed} have no hash"


def test_the_runtime_lock_covers_every_runtime_dependency() -> None:
    locked = lock("requirements.lock")
    for package, req in requirements(PYPROJECT["project"]["dependencies"]).items():
        assert package in locked, f"requirements.lock lacks {req}: run deploy/update-locks.sh"
        version = locked[package][0]
        assert req.specifier.contains(version, prereleases=True), f"requirements.lock pins {package}=={version}: {req}"


def test_trustme_is_the_simulators_and_the_developers_not_the_workers() -> None:
    optional = PYPROJECT["project"]["optional-dependencies"]
    assert "trustme" not in requirements(PYPROJECT["project"]["dependencies"])
    assert "trustme" in requirements(optional["sim"]) and "trustme" in requirements(optional["dev"])
    runtime, sim = lock("requirements.lock"), lock("requirements-sim.lock")
    dev_only = set(requirements(optional["dev"])) - {"requests"}  # requests comes with msrest (azure-mgmt-*)
    assert not dev_only & runtime.keys(), f"test-only packages in the worker image: {dev_only & runtime.keys()}"
    assert {name: sim[name] for name in runtime} == runtime, "requirements-sim.lock must keep the runtime pins"
    assert sim.keys() - runtime.keys() == set(requirements(optional["sim"])), sim.keys() - runtime.keys()


def test_the_build_lock_covers_the_build_backend() -> None:
    locked = lock("requirements-build.lock")
    for package, req in requirements(PYPROJECT["build-system"]["requires"]).items():
        assert package in locked and req.specifier.contains(locked[package][0]), f"requirements-build.lock: {req}"


def test_make_install_runs_the_locked_versions_with_the_dev_extra() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "requirements-sim.lock" in makefile and "-c $(VENV)/locked.txt -e '.[dev]'" in makefile


def test_the_simulator_command_says_what_is_missing_in_the_worker_image() -> None:
    """The worker image has the simulator's code but not trustme: one line, exit 2, no traceback."""
    script = (
        "import sys; sys.modules['trustme'] = None\n"  # what an image without the sim extra has
        "from adeflow.cli.main import main; sys.argv = ['adeflow', 'sim', 'serve', '--help']; main()"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'adeflow[sim]'" in done.stderr and "simulator" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout

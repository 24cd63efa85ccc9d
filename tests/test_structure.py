"""The harness's shape: no import circles, models independent of the harness, one parser of variant names,
and stage dependencies that are exactly what a run's code imports."""

import ast
from pathlib import Path

from bench.protocol import variants
from bench.protocol.dependencies import _imports, closure, module_file, relative_paths
from tests.conftest import REPO, runtime_model_imports


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    files = sorted([*(REPO / "bench").rglob("*.py"), *(REPO / "models").glob("*.py")])
    modules = {_module_name(f): f for f in files}
    return {name: {m for m in _imports(path) if m in modules and m != name} for name, path in modules.items()}


def test_no_import_circles_between_harness_files():
    graph, state, cycles = _graph(), {}, []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_import_graph_sees_lazy_imports():
    graph = _graph()  # the check above could not fail if function-level imports were invisible to it
    assert "bench.measurement.truncation" in graph["bench.measurement.evaluate"]


def test_models_import_nothing_of_the_harness():
    for path in (REPO / "models").glob("*.py"):
        assert not [m for m in _imports(path) if m.split(".")[0] == "bench"], path.name


def test_only_the_grammar_module_parses_variant_names():
    for path in (REPO / "bench").rglob("*.py"):
        if path.name == "names.py":
            continue
        text = path.read_text()
        for pattern in ('split("+")', 'partition("~")', 'rsplit("+"', 'split("~")', 'partition("+")'):
            assert pattern not in text, f"{path.relative_to(REPO)} parses a variant name ({pattern})"


def _builtin_variants():
    """The zoo's variants (other tests register plugins from temporary folders)."""
    return [v for v in variants.all_variants() if Path(v.defined_in).is_relative_to(REPO / "models")]


def test_each_variants_code_dependencies_are_exactly_what_its_module_imports():
    registered = _builtin_variants()
    modules = sorted({_module_name(Path(v.defined_in)) for v in registered})
    runtime = runtime_model_imports(modules)
    for v in registered:
        computed = relative_paths(closure([Path(f) for f in v.code_files()]), REPO)
        assert set(computed) == runtime[_module_name(Path(v.defined_in))], v.name


def test_a_family_module_is_a_dependency_of_exactly_the_variants_that_import_it():
    by_file: dict[str, set[str]] = {}
    for v in _builtin_variants():
        for file in relative_paths(closure([Path(f) for f in v.code_files()]), REPO):
            by_file.setdefault(file, set()).add(v.name)
    assert by_file["models/mlp_gan.py"] == {"mlp-gan"}
    # ViT-VQGAN's D is StyleGAN2's
    assert by_file["models/stylegan2.py"] == {"stylegan2", "stylegan3-t", "vit-vqgan",
                                              *(f"stylegan2-{c}" for c in "abcdef")}
    assert by_file["models/dcgan.py"] == {"dcgan", "cgan"}


def test_the_train_loop_does_not_depend_on_any_family():
    entries = [module_file("bench.training.loop"), module_file("bench.training.tasks.generation")]
    harness = relative_paths(closure(entries), REPO)
    families = {f"models/{p.stem}.py" for p in (REPO / "models").glob("*.py")} - {
        "models/registry.py", "models/base.py", "models/minibatch.py", "models/spectral.py", "models/__init__.py"}
    assert not set(harness) & families, set(harness) & families
    assert "bench/training/tasks/generation.py" in harness and "bench/cli.py" not in harness
    # training never depends on the metric spec: editing a metric re-runs evaluate, not train
    assert not [f for f in harness if f.startswith(("bench/measurement/", "bench/tables/", "bench/report/"))]


def test_ast_of_every_harness_file_parses():  # the analysis above reads every file
    for path in [*(REPO / "bench").rglob("*.py"), *(REPO / "models").glob("*.py")]:
        ast.parse(path.read_text())

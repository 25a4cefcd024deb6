#!/usr/bin/env bash
# Installs mergekit from its source into a virtual environment: ./setup.sh MERGEKIT_SRC [VENV]
# MERGEKIT_SRC: a checkout of arcee-ai/mergekit (not on the package registries this project reaches).
# mergekit pins exact versions (tqdm==4.67.1, pydantic~=2.10, ...) that a local index may not hold, so its
# dependencies are installed unpinned and mergekit itself with --no-deps.
set -euo pipefail
src=${1:?usage: setup.sh MERGEKIT_SRC [VENV]}
venv=${2:-.venv}
python3 -m venv "$venv"
pip=("$venv/bin/pip" install -q)
if ls /opt/wheels/torch-*.whl >/dev/null 2>&1; then "${pip[@]}" /opt/wheels/torch-*.whl; else "${pip[@]}" torch; fi
"${pip[@]}" numpy tqdm click safetensors accelerate pydantic transformers tokenizers huggingface-hub peft \
    typing-extensions protobuf scipy sentencepiece
"${pip[@]}" --no-deps "$src"
if ! "${pip[@]}" immutables 2>/dev/null; then
    # mergekit uses immutables.Map only as a hashable read-only mapping (mergekit/common.py): where the
    # package is not available, a minimal one with that behaviour stands in.
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    mkdir -p "$site/immutables"
    cat > "$site/immutables/__init__.py" <<'PY'
from collections.abc import Mapping


class Map(Mapping):
    """A read-only, hashable mapping (the part of immutables.Map that mergekit uses)."""

    def __init__(self, data=()):
        self._d = dict(data)

    def __class_getitem__(cls, item):
        return cls

    def __getitem__(self, k):
        return self._d[k]

    def __iter__(self):
        return iter(self._d)

    def __len__(self):
        return len(self._d)

    def __hash__(self):
        return hash(frozenset(self._d.items()))

    def __repr__(self):
        return f"immutables.Map({self._d!r})"
PY
    echo "immutables: not installable here; a minimal stand-in was written to $site/immutables"
fi
if ! "$venv/bin/mergekit-yaml" --help >/dev/null 2>&1; then
    # mergekit pins pydantic~=2.10; pydantic 2.13 refuses Task[torch.Tensor] without arbitrary_types_allowed
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    sed -i 's/^class Task(ABC, BaseModel, Generic\[ValueT\], frozen=True):/class Task(ABC, BaseModel, Generic[ValueT], frozen=True, arbitrary_types_allowed=True):/' \
        "$site/mergekit/graph.py"
    echo "mergekit/graph.py: Task allows arbitrary types (pydantic $("$venv/bin/python" -c 'import pydantic; print(pydantic.VERSION)'))"
fi
"$venv/bin/mergekit-yaml" --help >/dev/null && echo "mergekit installed in $venv"

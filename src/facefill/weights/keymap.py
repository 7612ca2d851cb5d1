"""Apply a registry key map: turn a loaded checkpoint object into a flat state_dict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facefill.errors import WeightsError
from facefill.weights.registry import KeyMap


def apply_keymap(obj: Any, keymap: KeyMap, *, what: str) -> dict[str, Any]:
    """Take the sub-dict, flatten sub-dicts, select/strip prefixes and drop keys, in that order.

    `what` names the checkpoint in error messages.
    """
    node = obj
    if keymap.take:
        for part in keymap.take.split("."):
            if not isinstance(node, Mapping) or part not in node:
                have = ", ".join(sorted(map(str, node))[:8]) if isinstance(node, Mapping) else type(node)
                raise WeightsError(f"{what} has no {keymap.take!r} entry (top level: {have}); wrong file?")
            node = node[part]
    if not isinstance(node, Mapping):
        raise WeightsError(
            f"{what} holds a {type(node).__name__}, not a state_dict; "
            "use facefill.weights.load_checkpoint for it"
        )
    if keymap.flatten:
        missing = [part for part in keymap.flatten if not isinstance(node.get(part), Mapping)]
        if missing:
            raise WeightsError(f"{what} has no sub-dict(s) {', '.join(map(repr, missing))}; wrong file?")
        node = {f"{part}.{key}": value for part in keymap.flatten for key, value in node[part].items()}
    state = dict(node)
    if keymap.select_prefix:
        p = keymap.select_prefix
        state = {k[len(p):]: v for k, v in state.items() if isinstance(k, str) and k.startswith(p)}
        if not state:
            raise WeightsError(f"{what} has no keys starting with {p!r}; wrong file?")
    for prefix in keymap.strip_prefix:
        state = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state.items()}
    for key in keymap.drop:
        state.pop(key, None)
    return state


def check_tensors(state: Mapping[str, Any], *, what: str) -> dict[str, Any]:
    """A state_dict must map str -> Tensor; anything else is a wrong key map or a wrong file."""
    import torch

    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        shown = ", ".join(repr(k) for k in bad[:5])
        raise WeightsError(
            f"{what}: entries {shown} are not tensors; "
            "pick a sub-dict (key map `take`) or use load_checkpoint"
        )
    return dict(state)

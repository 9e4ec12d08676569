"""YAML from a user's files (tts_infer.yaml), parsed with bounds like every other untrusted reader.

yaml.safe_load shares an aliased node instead of copying it, so a 500-byte "billion laughs" file loads
at once, and then anything that walks the data (str(), json, rendering) walks 10^9 nodes: it hangs.
Deep nesting recurses in the composer until RecursionError. GPT-SoVITS' config is a flat mapping of a
few dozen scalars, so the bounds below are far above any real file and far below any harm.
"""

from __future__ import annotations

from typing import Any, Dict

MAX_YAML_CHARS = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000  # counted as if every alias were a copy: what a walk of the loaded data visits


class YamlTooComplex(ValueError):
    """Valid YAML, perhaps, but past a bound (size, nesting, expanded size)."""


def safe_load(text: str) -> Any:
    """yaml.safe_load with bounds; raises yaml.YAMLError for malformed text, YamlTooComplex past a bound."""
    import yaml  # here: callers on the check path import this module without parsing YAML

    if len(text) > MAX_YAML_CHARS:
        raise YamlTooComplex(f"larger than {MAX_YAML_CHARS >> 10} KiB")

    class BoundedLoader(yaml.SafeLoader):
        depth = 0
        weights: Dict[int, int] = {}

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.depth >= MAX_DEPTH:
                raise YamlTooComplex(f"nested deeper than {MAX_DEPTH} levels")
            self.depth += 1
            try:
                node = super().compose_node(parent, index)
            finally:
                self.depth -= 1
            self._weigh(node)
            return node

        def _weigh(self, node: Any) -> None:
            # An alias returns the anchored node itself, already weighed: each use adds its full weight.
            if id(node) in self.weights:
                weight = self.weights[id(node)]
            elif isinstance(node, yaml.SequenceNode):
                weight = 1 + sum(self.weights.get(id(child), 1) for child in node.value)
            elif isinstance(node, yaml.MappingNode):
                weight = 1 + sum(self.weights.get(id(k), 1) + self.weights.get(id(v), 1) for k, v in node.value)
            else:
                weight = 1
            self.weights[id(node)] = weight  # the nodes live in the tree: their ids are not reused
            if weight > MAX_NODES:
                raise YamlTooComplex(f"expands to more than {MAX_NODES} values (aliases)")

    loader = BoundedLoader(text)
    loader.weights = {}
    try:
        return loader.get_single_data()
    except RecursionError as exc:  # a construct this loader did not bound: still not a crash
        raise YamlTooComplex(f"nested too deeply ({exc})") from exc
    finally:
        loader.dispose()

"""The table of bad projects under tests/projects/: what each must report (node, param, text)."""

from __future__ import annotations

from typing import NamedTuple


class Bad(NamedTuple):
    name: str  # tests/projects/<name>.json, named by what is wrong
    node: str | None  # the node the issue names
    param: str | None  # the param it names
    fragment: str  # text the message must contain


BAD_PROJECTS = [
    Bad("invalid-json", None, None, "invalid JSON: Expecting property name"),
    Bad("wrong-format", None, "format", "written by a newer Graphmill"),
    Bad("no-format", None, "format", "no 'format' key"),
    Bad(
        "unknown-top-key",
        None,
        None,
        "unknown key 'schedule' (a key from a newer Graphmill? then please upgrade)",
    ),
    Bad("unknown-node-key", "tidy", None, "unknown key 'colour' in the node"),
    Bad("bad-id", "1st tidy", "id", "id '1st tidy' is not valid"),
    Bad("duplicate-id", "tidy", None, "the id 'tidy' is used by 2 nodes"),
    Bad("edge-to-missing-node", None, None, "there is no node 'outt' (did you mean 'out'?)"),
    Bad("edge-to-missing-port", "stats", None, "has no input port 'input' (inputs: in)"),
    Bad("two-edges-into-one-input", "stats", None, "input 'in' has 2 edges (from tidy.out, orders.out)"),
    Bad("cycle", "stats", None, "the graph has a cycle: stats -> again -> stats"),
    Bad("unknown-type", "out", "type", "unknown node type 'sink.csvv' (did you mean 'sink.csv'?)"),
    Bad("missing-plugin", "stats", "type", "it comes from the plugin 'graphmill-geo'"),
    Bad("unknown-param", "orders", "sed", "unknown param (did you mean 'seed'?)"),
    Bad("missing-required-param", "orders", "rows", "is required"),
    Bad("wrong-param-type", "orders", "rows", "Input should be a valid integer, not '1000'"),
    Bad("bad-expr", "stats", "columns.revenue", "`quantity *`"),
    Bad("unsafe-expr", "stats", "filter", "__import__"),
    Bad("unknown-column", "stats", "columns.revenue", "unknown column 'quantiy' (did you mean 'quantity'?)"),
    Bad("unknown-aggregate", "stats", "aggregate.values.revenue", "unknown aggregate function 'total'"),
    Bad("filter-not-bool", "stats", "filter", "must give true or false per row"),
    Bad("input-not-connected", "out", None, "input 'in' is not connected"),
    Bad("dask-without-scheduler", None, "resources.scheduler", "backend 'dask' needs a scheduler"),
    Bad("bad-workers", None, "resources.workers", "workers must be an integer >= 1 or 'auto', not 0"),
    Bad("csv-unknown-column", "orders", "dtypes", "unknown column 'prise' (did you mean 'price'?)"),
]

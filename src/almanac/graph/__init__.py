"""The entity graph: neighbours, paths and impact over what Almanac knows.

Postgres keeps `graph_nodes` and `graph_edges` current with triggers (migration 0016);
this domain only reads them.
"""

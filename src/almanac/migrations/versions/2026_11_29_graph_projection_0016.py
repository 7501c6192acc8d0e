"""The entity graph, kept current by Postgres itself from the tables it mirrors.

Row triggers on blueprints, workflows, process templates, plans, tasks, execution runs,
current facts and documents upsert `graph_nodes` and `graph_edges`, so every writer (API,
CLI, jobs, SQL users) keeps the graph true without remembering to. Node ids are
`<type>:<id>` (`plan:4`, `client:7`, `workflow:2`); a fact's subject is the node of the same
name, so facts about `client:7` hang off the client's node. Edges point from what is
depended on to what depends on it (blueprint → workflow → plan → task → run), so "what
does a change to X affect" is a walk along outgoing edges.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELPERS = [
    """
CREATE FUNCTION graph_node(p_id text, p_type text, p_props jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO graph_nodes (node_type, node_id, properties)
    VALUES (p_type, p_id, p_props)
    ON CONFLICT (node_id) DO UPDATE
    SET node_type = EXCLUDED.node_type, properties = EXCLUDED.properties, updated_at = now()
    WHERE graph_nodes.properties IS DISTINCT FROM EXCLUDED.properties
       OR graph_nodes.node_type IS DISTINCT FROM EXCLUDED.node_type;
$$;
""",
    # An edge to an entity that has no table of its own (a client, an engagement) creates
    # that entity's node on the way.
    """
CREATE FUNCTION graph_edge(p_from text, p_to text, p_type text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_from IS NULL OR p_to IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO graph_nodes (node_type, node_id, properties)
    VALUES (split_part(p_from, ':', 1), p_from, '{}'), (split_part(p_to, ':', 1), p_to, '{}')
    ON CONFLICT (node_id) DO NOTHING;
    INSERT INTO graph_edges (from_node_id, to_node_id, edge_type)
    VALUES (p_from, p_to, p_type)
    ON CONFLICT ON CONSTRAINT uq_graph_edges_triple DO NOTHING;
END;
$$;
""",
    """
CREATE FUNCTION graph_drop(p_id text) RETURNS void LANGUAGE sql AS $$
    DELETE FROM graph_nodes WHERE node_id = p_id;
$$;
""",
    # Before re-deriving a row's links: forget the ones it had (its foreign keys may have
    # changed). Only edges this row owns: into it, of the given types.
    """
CREATE FUNCTION graph_unlink_in(p_id text, p_types text[]) RETURNS void LANGUAGE sql AS $$
    DELETE FROM graph_edges WHERE to_node_id = p_id AND edge_type = ANY (p_types);
$$;
""",
]

SYNC = {
    "workflows": """
    PERFORM graph_node('workflow:' || r.id, 'workflow',
        jsonb_build_object('name', r.name, 'version', r.version, 'capability', r.capability));
    PERFORM graph_unlink_in('workflow:' || r.id, ARRAY['parent_of']);
    IF r.parent_workflow_id IS NOT NULL THEN
        PERFORM graph_edge('workflow:' || r.parent_workflow_id, 'workflow:' || r.id, 'parent_of');
    END IF;
""",
    "service_blueprints": """
    PERFORM graph_node('blueprint:' || r.id, 'blueprint', jsonb_build_object('name', r.name));
    DELETE FROM graph_edges WHERE from_node_id = 'blueprint:' || r.id AND edge_type = 'includes';
    PERFORM graph_edge('blueprint:' || r.id, 'workflow:' || w.id, 'includes')
    FROM workflows w
    WHERE jsonb_typeof(r.workflow_sequence) = 'array'
      AND w.id IN (SELECT (x #>> '{}')::bigint FROM jsonb_array_elements(r.workflow_sequence) x
                   WHERE jsonb_typeof(x) = 'number' AND (x #>> '{}') ~ '^[0-9]{1,18}$');
""",
    "process_templates": """
    PERFORM graph_node('template:' || r.id, 'template',
        jsonb_build_object('name', r.name, 'status', r.status));
    PERFORM graph_unlink_in('template:' || r.id, ARRAY['instantiated_as', 'has_template']);
    PERFORM graph_edge('workflow:' || r.workflow_id, 'template:' || r.id, 'instantiated_as');
    PERFORM graph_edge('engagement:' || r.engagement_id, 'template:' || r.id, 'has_template');
""",
    "plans": """
    PERFORM graph_node('plan:' || r.id, 'plan',
        jsonb_build_object('title', r.plan_title, 'status', r.status));
    PERFORM graph_unlink_in('plan:' || r.id, ARRAY['planned_from', 'has_plan']);
    DELETE FROM graph_edges WHERE from_node_id = 'plan:' || r.id AND edge_type = 'approved_as';
    PERFORM graph_edge('workflow:' || r.workflow_id, 'plan:' || r.id, 'planned_from');
    PERFORM graph_edge('client:' || r.client_id, 'plan:' || r.id, 'has_plan');
    PERFORM graph_edge('engagement:' || r.engagement_id, 'plan:' || r.id, 'has_plan');
    PERFORM graph_edge('client:' || r.client_id, 'engagement:' || r.engagement_id,
        'has_engagement');
    PERFORM graph_edge('plan:' || r.id, 'template:' || r.process_template_id, 'approved_as');
""",
    "tasks": """
    PERFORM graph_node('task:' || r.id, 'task',
        jsonb_build_object('title', r.title, 'status', r.status));
    PERFORM graph_unlink_in('task:' || r.id, ARRAY['has_task', 'precedes']);
    PERFORM graph_edge('plan:' || r.plan_id, 'task:' || r.id, 'has_task');
    PERFORM graph_edge('template:' || r.process_template_id, 'task:' || r.id, 'has_task');
    -- Dependencies are keys of tasks of the same plan, in both directions: a task may be
    -- written before or after the tasks it depends on.
    IF r.plan_id IS NOT NULL THEN
        PERFORM graph_edge('task:' || d.id, 'task:' || r.id, 'precedes')
        FROM tasks d
        WHERE d.plan_id = r.plan_id AND d.id <> r.id
          AND jsonb_typeof(r.depends_on) = 'array' AND r.depends_on ? d.plan_task_key;
        PERFORM graph_edge('task:' || r.id, 'task:' || d.id, 'precedes')
        FROM tasks d
        WHERE d.plan_id = r.plan_id AND d.id <> r.id AND r.plan_task_key IS NOT NULL
          AND jsonb_typeof(d.depends_on) = 'array' AND d.depends_on ? r.plan_task_key;
    END IF;
""",
    "execution_runs": """
    PERFORM graph_node('run:' || r.id, 'run', jsonb_build_object(
        'status', r.status, 'actual_hours', r.actual_hours, 'estimated_hours', r.estimated_hours));
    PERFORM graph_unlink_in('run:' || r.id, ARRAY['executed_by']);
    PERFORM graph_edge('task:' || r.task_id, 'run:' || r.id, 'executed_by');
    PERFORM graph_edge('template:' || r.process_template_id, 'run:' || r.id, 'executed_by');
""",
    # Only current facts are entities; a superseded one leaves the graph.
    "facts": """
    IF r.valid_to IS NOT NULL THEN
        PERFORM graph_drop('fact:' || r.id);
        RETURN;
    END IF;
    PERFORM graph_node('fact:' || r.id, 'fact', jsonb_build_object(
        'fact_type', r.fact_type, 'category', r.category, 'content', left(r.content, 200)));
    PERFORM graph_unlink_in('fact:' || r.id, ARRAY['has_fact']);
    PERFORM graph_edge(left(r.subject_type || ':' || r.subject_id, 255), 'fact:' || r.id,
        'has_fact');
""",
    "documents": """
    PERFORM graph_node('document:' || r.id, 'document', jsonb_build_object('title', r.title));
    PERFORM graph_unlink_in('document:' || r.id, ARRAY['has_document']);
    PERFORM graph_edge('client:' || r.client_id, 'document:' || r.id, 'has_document');
""",
}
PREFIX = {
    "workflows": "workflow",
    "service_blueprints": "blueprint",
    "process_templates": "template",
    "plans": "plan",
    "tasks": "task",
    "execution_runs": "run",
    "facts": "fact",
    "documents": "document",
}


def upgrade() -> None:
    for statement in HELPERS:
        op.execute(statement)
    for table, body in SYNC.items():
        op.execute(
            f"CREATE FUNCTION graph_sync_{table}(r {table}) RETURNS void "
            f"LANGUAGE plpgsql AS $$\nBEGIN\n{body}\nEND;\n$$;"
        )
        op.execute(
            f"""
CREATE FUNCTION graph_trigger_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM graph_drop('{PREFIX[table]}:' || OLD.id);
        RETURN NULL;
    END IF;
    PERFORM graph_sync_{table}(NEW);
    RETURN NULL;
END;
$$;"""
        )
        op.execute(
            f"CREATE TRIGGER {table}_graph AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION graph_trigger_{table}()"
        )
    # What is already there joins the graph, in dependency order.
    for table in SYNC:
        op.execute(f"SELECT graph_sync_{table}(t) FROM {table} t ORDER BY t.id")


def downgrade() -> None:
    for table in SYNC:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_graph ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS graph_trigger_{table}()")
        op.execute(f"DROP FUNCTION IF EXISTS graph_sync_{table}({table})")
    for name in (
        "graph_node(text, text, jsonb)",
        "graph_edge(text, text, text)",
        "graph_drop(text)",
        "graph_unlink_in(text, text[])",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {name}")
    op.execute("DELETE FROM graph_edges")
    op.execute("DELETE FROM graph_nodes")

"""The Pattern Ontology: service blueprints, workflows, process templates, execution runs."""

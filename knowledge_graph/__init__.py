"""knowledge_graph package."""
__all__: list[str] = []

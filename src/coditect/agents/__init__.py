"""Agents: definitions (Markdown + YAML front matter), the registry, and the dispatcher.

``Registry.load(project)`` reads the shipped library, the user's and the project's
agents; ``dispatch.suggest`` and ``dispatch.assign`` pick agents for tasks;
``install.install`` writes agents where Claude Code finds them.
"""

from __future__ import annotations

from coditect.agents.registry import Agent, Registry, parse_agent

__all__ = ["Agent", "Registry", "parse_agent"]

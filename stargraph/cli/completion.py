"""``stargraph completion bash|zsh|fish``: completion scripts generated from the parser.

The scripts complete command words and option names (no dynamic values: completing run or
trigger ids would need a server or a store on every Tab).
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["cmd_completion", "command_tree"]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return sorted(o for a in parser._actions for o in a.option_strings if o.startswith("--"))


def command_tree(parser: argparse.ArgumentParser) -> dict[str, list[str]]:
    """Map each command path (``""``, ``"runs"``, ``"runs list"``) to the words after it."""
    tree: dict[str, list[str]] = {}

    def walk(path: str, p: argparse.ArgumentParser) -> None:
        subs = _subparsers(p)
        tree[path] = sorted(subs) + _options(p)
        for name, child in subs.items():
            walk(f"{path} {name}".strip(), child)

    walk("", parser)
    return tree


def _bash(tree: dict[str, list[str]]) -> str:
    cases = "\n".join(f'        "{path}") words="{" ".join(ws)}" ;;' for path, ws in tree.items())
    return f"""# stargraph bash completion: source <(stargraph completion bash)
_stargraph() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" path="" w words
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do
        [[ "$w" == -* ]] && continue
        case "${{path:+$path }}$w" in
{chr(10).join(f'            "{p}") path="{p}" ;;' for p in tree if p)}
        esac
    done
    case "$path" in
{cases}
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _stargraph stargraph
"""


def _zsh(tree: dict[str, list[str]]) -> str:
    return "#compdef stargraph\n# stargraph zsh completion (bash-compatible)\n" + (
        "autoload -U +X bashcompinit && bashcompinit\n" + _bash(tree)
    )


def _fish(tree: dict[str, list[str]]) -> str:
    lines = ["# stargraph fish completion", "complete -c stargraph -f"]
    for path, words in tree.items():
        parts = path.split()
        if parts:
            cond = " && ".join(f"__fish_seen_subcommand_from {p}" for p in parts)
        else:
            cond = "__fish_use_subcommand"
        for word in words:
            if word.startswith("--"):
                lines.append(f"complete -c stargraph -n '{cond}' -l {word[2:]}")
            else:
                lines.append(f"complete -c stargraph -n '{cond}' -a {word}")
    return "\n".join(lines) + "\n"


def cmd_completion(args: argparse.Namespace) -> int:
    """Print the completion script for ``args.shell``."""
    from stargraph.cli._parser import build_parser

    tree = command_tree(build_parser())
    render = {"bash": _bash, "zsh": _zsh, "fish": _fish}[args.shell]
    sys.stdout.write(render(tree))
    return 0

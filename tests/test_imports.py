"""What a CLI command's start imports: reading a config must not pull in the web stack."""

from __future__ import annotations

import subprocess
import sys


def imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_loading_config_does_not_import_quart() -> None:
    modules = imported_after("import stargraph.config, stargraph.triggers.webhook.spec")
    assert "stargraph.config" in modules
    assert not {m for m in modules if m.split(".")[0] in {"quart", "hypercorn", "flask"}}


def test_the_webhook_trigger_is_still_importable_from_its_package() -> None:
    from stargraph.triggers.webhook import WebhookTrigger
    from stargraph.triggers.webhook.trigger import WebhookTrigger as direct

    assert WebhookTrigger is direct

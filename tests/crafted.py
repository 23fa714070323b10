"""A dictionary-only checkpoint whose architecture names a command: it passes ``torch.load(weights_only=True)``,
so only budgetsearch's own refusal keeps its command from running (issue 19)."""

import torch


def crafted_checkpoint(path, marker, model="os:system") -> str:
    """Write it to ``path``; the command it smuggles would create the file ``marker``."""
    architecture = {"model": model, "substitute": "conv", "setting": None, "num_classes": 10,
                    "input_size": [1, 8, 8], "options": {"command": f"touch {marker}"}}
    torch.save({"format": "budgetsearch-checkpoint", "version": 1, "architecture": architecture, "state_dict": {},
                "summary": {}}, path)
    return str(path)

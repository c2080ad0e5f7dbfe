"""Web UI (gradio) for text-to-video: `python -m opensora.serve` (README "Web UI")."""

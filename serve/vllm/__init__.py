"""vLLM engine for alm checkpoints: export (LoRA merged), an out-of-tree multimodal model, a launcher.

`plugin.register` is the `vllm.general_plugins` entry point; `model` holds the vLLM model and its
multimodal processor; `export` turns an alm checkpoint into a folder vLLM loads; `launch` runs
vLLM's own OpenAI server on it (from the separate venv built by `setup_vllm_env.sh`).
"""

"""training: recipes (YAML stages) and the engine that trains alm models; see README.md.

config.py       TrainConfig: the typed, validated stage config (YAML + --set overrides)
curriculum.py   stage files and folders, run in order, finished stages skipped
engine.py       train_stage: accelerate loop, loss on answers, validation, final save + record
data.py         data mix, exact token lengths, length-grouped batches, collation
feature_cache.py  frozen-encoder outputs in safetensors shards, keyed by audio and encoder
checkpointing.py  atomic checkpoints for --resume
logs.py         metrics.jsonl (+ TensorBoard when installed)
cli.py          `alm train`
"""

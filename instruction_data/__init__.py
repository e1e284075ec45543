"""instruction_data: OpenAQA-style instruction tuples about audio, and the offline corpus.

Public API (see README.md):
- `Record`, `Turn`, `TASKS`, `STAGES`, `NEGATIVE_MODES`: the schema (schema.py)
- `read_records`, `write_records`: files in OpenAQA or conversation form (files.py)
- `validate_file`: problems with file, line/index, field and reason (validate.py)
- `load_split`, `load_clips`, `load_hf_dataset`, `corpus_dir`: a built corpus (loader.py)
- `BuildConfig`, `build`: `alm data build` as a function (build/)
"""

from instruction_data.files import read_records, write_records
from instruction_data.loader import corpus_dir, load_clips, load_hf_dataset, load_split
from instruction_data.schema import NEGATIVE_MODES, STAGES, TASKS, Record, Turn
from instruction_data.validate import validate_file

__all__ = ["NEGATIVE_MODES", "STAGES", "TASKS", "Record", "Turn", "corpus_dir", "load_clips", "load_hf_dataset",
           "load_split", "read_records", "validate_file", "write_records"]

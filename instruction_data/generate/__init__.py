"""Question-answer generation: closed-ended perception, open-ended reasoning, multi-clip."""

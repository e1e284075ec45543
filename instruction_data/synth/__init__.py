"""Synthesized clips with exact metadata: espeak-ng speech, tones/noise/clicks, and clips
derived from rendered ones (sequences at known onsets, repeats, augmentations)."""

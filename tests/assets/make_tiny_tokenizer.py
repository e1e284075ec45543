"""Regenerate tests/assets/tiny-tokenizer: a 512-token byte-level BPE with a ChatML template.

Run once (`python tests/assets/make_tiny_tokenizer.py`); the output is committed so tests
never need a network or a real model's tokenizer.
"""

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

OUT = Path(__file__).parent / "tiny-tokenizer"
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CORPUS = [
    "system user assistant You are alm, an assistant that listens to audio clips and answers questions about them.",
    "What do you hear? What sound is this? Is there a dog barking? Yes. No. I hear a bell ringing.",
    "a dog barks, a cat meows, a car passes, rain falls, birds sing, a man speaks, a woman laughs",
    "low tone high tone noise click beep siren music piano guitar drum speech silence",
    "The first clip is louder than the second. It happens first, then it stops. one two three four five",
] * 20


def main() -> None:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token="<|endoftext|>", unk_token="<|endoftext|>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(OUT)


if __name__ == "__main__":
    main()

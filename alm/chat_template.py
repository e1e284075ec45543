"""The one prompt layout: alm's chat template, the LLM's own template extended to audio content parts.

Every producer of prompts (training records, `alm ask`, the API, the chat, evaluation, vLLM)
passes OpenAI-style content parts, `{"type": "audio"}` and `{"type": "text", "text": ...}`, and
only this template turns them into text:

- an audio part becomes one `audio_token` (the processor later expands it to the clip's tokens);
- a text part is its text; it starts on a new line when it follows another text part, or when
  every part before it is audio (clips first, then the question on its own line):
  `[audio, audio, text]` -> `<|audio|><|audio|>\\nWhat is louder?`;
  `[text "Is ", audio, text " louder than ", audio, text "?"]` -> `Is <|audio|> louder than <|audio|>?`;
- string contents pass through unchanged, and a conversation without a system message gets
  alm's system prompt.

The converted messages then go through the LLM's own template, kept verbatim after a marker
line, so text-only conversations render exactly as the LLM was trained. vLLM detects the loop
over `message['content']` and passes content parts to this template ("openai" content format).
"""

from __future__ import annotations

import json
import re

HEADER = "{#- alm chat template v1: audio/text content parts -> text, then the LLM's own template -#}\n"
MARKER = "{#- alm: the LLM's own chat template follows -#}\n"
AUDIO_PART_TYPES = ("audio", "input_audio", "audio_url")  # what OpenAI clients and vLLM call an audio part

_PARTS_TO_TEXT = """\
{%- set alm = namespace(messages=[], text='', leading=true, previous='') -%}
{%- if not (messages and messages[0]['role'] == 'system') -%}
  {%- set alm.messages = [{'role': 'system', 'content': @SYSTEM_PROMPT@}] -%}
{%- endif -%}
{%- for message in messages -%}
  {%- if message['content'] is string or message['content'] is none -%}
    {%- set alm.messages = alm.messages + [{'role': message['role'], 'content': message['content'] or ''}] -%}
  {%- else -%}
    {%- set alm.text = '' -%}{%- set alm.leading = true -%}{%- set alm.previous = '' -%}
    {%- for part in message['content'] -%}
      {%- if part['type'] in @AUDIO_PART_TYPES@ -%}
        {%- set alm.text = alm.text + @AUDIO_TOKEN@ -%}{%- set alm.previous = 'audio' -%}
      {%- elif part['type'] == 'text' -%}
        {%- if alm.previous == 'text' or (alm.previous == 'audio' and alm.leading) -%}
          {%- set alm.text = alm.text + '\\n' -%}
        {%- endif -%}
        {%- set alm.text = alm.text + part['text'] -%}{%- set alm.previous = 'text' -%}{%- set alm.leading = false -%}
      {%- else -%}
        {{- raise_exception('alm takes text and audio content parts, not ' ~ part['type']) -}}
      {%- endif -%}
    {%- endfor -%}
    {%- set alm.messages = alm.messages + [{'role': message['role'], 'content': alm.text}] -%}
  {%- endif -%}
{%- endfor -%}
{%- set messages = alm.messages -%}
"""


def build_chat_template(llm_template: str, system_prompt: str, audio_token: str) -> str:
    """alm's template around `llm_template` (an alm template is unwrapped first, so this never nests)."""
    literals = {"SYSTEM_PROMPT": system_prompt, "AUDIO_PART_TYPES": list(AUDIO_PART_TYPES), "AUDIO_TOKEN": audio_token}
    prefix = re.sub(r"@(\w+)@", lambda m: json.dumps(literals[m.group(1)]), _PARTS_TO_TEXT)
    return HEADER + prefix + MARKER + llm_template_of(llm_template)


def is_alm_template(template: str | None) -> bool:
    return bool(template) and template.startswith(HEADER) and MARKER in template


def llm_template_of(template: str) -> str:
    """The LLM's own template inside an alm template (or the template itself if it is not one)."""
    return template.split(MARKER, 1)[1] if is_alm_template(template) else template

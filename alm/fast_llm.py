"""A lean decode loop for Llama-architecture LLMs (SmolLM2, alm-tiny's LLM): what makes CPU answers fast.

transformers' `generate` spends most of a 135M model's decode step in Python (module calls, cache
objects, mask building, logits processors): ~90 ms per token on the 2-core CPU here, about a third
of what memory bandwidth allows. `FastLlama` runs the same computation with the LLM's own weights
(LoRA merged first), q/k/v and gate/up fused into one matmul each, a KV cache allocated once per
answer, no per-step masks for a single conversation, and a new token's query heads grouped under the
key/value head they share (SDPA's GQA expansion took 83 us a layer here, the grouped call 25 us, with
the same output), so a step is ~35 tensor ops per layer. On CPU in bfloat16, the matrix products of a
one-token step (one or two rows) go through `alm.kernels.gemv` (a C kernel that streams the weights at about
memory speed, twice PyTorch's bfloat16 matmul here, on a thread pool of its own) when it builds; prompts and
larger batches use PyTorch's. During such a step PyTorch's own small ops run on the calling thread alone
(`_kernel_step`).
Prompts come in as embeddings (alm splices audio tokens there), left-padded for batches.

Numerics follow transformers' Llama (float32 RMSNorm and rotary tables cast to the weights' dtype,
SDPA attention); fusing the projections changes float rounding only. `supports(llm)` says whether
an LLM can run here; anything else goes through `generate`.

Shapes: B batch, L prompt length, S cache length, H heads, Hk key/value heads, Dh head width, D width.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F

ARCHITECTURES = ("LlamaForCausalLM",)


def supports(llm) -> bool:
    """A plain (merged, unquantized) Llama-architecture causal LM with the default rotary embedding."""
    config = getattr(llm, "config", None)
    if config is None or type(llm).__name__ not in ARCHITECTURES:
        return False
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
    return (rope_type == "default" and not getattr(config, "attention_bias", False)
            and not getattr(config, "mlp_bias", False) and config.hidden_act == "silu"
            and getattr(config, "quantization_config", None) is None
            and not any(type(m).__name__.startswith(("Lora", "Linear8bit", "Linear4bit")) for m in llm.modules()
                        if m is not llm))


def _rope_theta(config) -> float:
    rope = getattr(config, "rope_parameters", None) or {}
    return float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0)))


class FastLlama:
    """Decoding with a merged Llama's weights (see the module docstring). Not thread-safe: one answer at a time."""

    def __init__(self, llm):
        config = llm.config
        model = llm.model
        self.config = config
        self.dtype = model.embed_tokens.weight.dtype
        self.device = model.embed_tokens.weight.device
        self.heads, self.kv_heads = config.num_attention_heads, config.num_key_value_heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.eps = config.rms_norm_eps
        self.layers = []
        with torch.no_grad():
            for layer in model.layers:
                a, m = layer.self_attn, layer.mlp
                self.layers.append((
                    layer.input_layernorm.weight,
                    torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]).contiguous(),  # (H+2Hk)Dh, D
                    a.o_proj.weight,
                    layer.post_attention_layernorm.weight,
                    torch.cat([m.gate_proj.weight, m.up_proj.weight]).contiguous(),  # 2I, D
                    m.down_proj.weight,
                ))
        self.norm = model.norm.weight
        self.lm_head = llm.lm_head.weight
        self.embed = model.embed_tokens
        inv = 1.0 / (_rope_theta(config) ** (torch.arange(0, self.head_dim, 2, dtype=torch.int64).float()
                                             / self.head_dim))
        self.inv_freq = inv.to(self.device)  # Dh/2
        self.scale = self.head_dim ** -0.5
        self.gemv = None
        if self.device.type == "cpu" and self.dtype == torch.bfloat16:
            from alm.kernels.gemv import load

            self.gemv = load()
        self._threads = torch.get_num_threads()  # the kernel's, set per answer

    def _linear(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """F.linear, by the native kernel for the few rows of a decode step where it is loaded."""
        if self.gemv is not None and self.gemv.takes(x, weight):
            return self.gemv(x, weight, self._threads)
        return F.linear(x, weight)

    @contextmanager
    def _kernel_step(self):
        """PyTorch single-threaded for a decode step whose products the native kernel runs on its own threads.
        Otherwise PyTorch's OpenMP workers, woken by its few parallel ops (attention), spin between them on the
        cores the kernel's helpers need: 3.4 tokens/s instead of 68 on 2 cores here. (Process-wide while it
        lasts: PyTorch work on other threads runs single-threaded for those milliseconds.)"""
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(self._threads)

    # ------------------------------------------------------------------ pieces
    def _norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Llama's RMSNorm: in float32, cast back, then scaled (one fused op instead of five)."""
        return weight * F.rms_norm(x.float(), x.shape[-1:], eps=self.eps).to(x.dtype)

    def _rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (B, L) -> cos, signed sin (B, 1, L, Dh) in the weights' dtype: the sin's first half negated, so
        that rotating is `x * cos + roll(x) * sin` (`_rotate`). Made once per answer for every position it can reach
        (`generate` indexes them per step); each position's values do not depend on the others."""
        freqs = positions[..., None].float() * self.inv_freq  # B, L, Dh/2
        emb = torch.cat([freqs, freqs], dim=-1)[:, None]  # B, 1, L, Dh
        sin = emb.sin()
        sin[..., : self.head_dim // 2].neg_()
        return emb.cos().to(self.dtype), sin.to(self.dtype)

    def _rotate(self, x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
        """Llama's rotary embedding, x * cos + cat(-x2, x1) * sin, as x * cos + cat(x2, x1) * signed_sin: the same
        floats (negating is exact) in four tensor ops instead of seven."""
        return x * cos + x.roll(self.head_dim // 2, dims=-1) * signed_sin

    def _forward(self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], cache: "_Cache",
                 mask: torch.Tensor | None, causal: bool) -> torch.Tensor:
        """x (B, L, D) at cache slots [cache.length, cache.length + L), `rotary` its positions' cos and signed sin
        (B, 1, L, Dh) -> hidden (B, L, D); fills the cache."""
        B, L, _ = x.shape
        H, Hk, Dh = self.heads, self.kv_heads, self.head_dim
        start, end = cache.length, cache.length + L
        cos, sin = rotary
        for i, (ln1, qkv_w, o_w, ln2, gate_up_w, down_w) in enumerate(self.layers):
            h = self._norm(x, ln1)
            qkv = self._linear(h, qkv_w).view(B, L, H + 2 * Hk, Dh).transpose(1, 2)  # B, H+2Hk, L, Dh
            q, k = self._rotate(qkv[:, : H + Hk], cos, sin).split([H, Hk], dim=1)  # queries and keys rotated at once
            v = qkv[:, H + Hk :]
            cache.k[i][:, :, start:end] = k
            cache.v[i][:, :, start:end] = v
            keys, values = cache.k[i][:, :, :end], cache.v[i][:, :, :end]  # B, Hk, S, Dh
            if L == 1:  # one new token: its query heads grouped by the key/value head they share, no GQA expansion
                attn = F.scaled_dot_product_attention(q.reshape(B, Hk, H // Hk, Dh), keys, values, attn_mask=mask,
                                                      scale=self.scale)  # B, Hk, H/Hk, Dh
                attn = attn.reshape(B, 1, H * Dh)
            else:
                attn = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, is_causal=causal and mask is None,
                                                      scale=self.scale, enable_gqa=H != Hk)  # B, H, L, Dh
                attn = attn.transpose(1, 2).reshape(B, L, H * Dh)
            x = x + self._linear(attn, o_w)
            h = self._norm(x, ln2)
            gate, up = self._linear(h, gate_up_w).chunk(2, dim=-1)
            x = x + self._linear(F.silu(gate) * up, down_w)
        cache.length = end
        return x

    def _logits(self, hidden_last: torch.Tensor) -> torch.Tensor:
        return self._linear(self._norm(hidden_last, self.norm), self.lm_head).float()  # B, V

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def generate(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, max_new_tokens: int,
                 eos_token_id: list[int], do_sample: bool = False, temperature: float | None = None,
                 top_p: float | None = None, stop: Callable[[], bool] | None = None,
                 row_stop: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Iterator[torch.Tensor]:
        """Yields the next token of every row, (B,), until each row has ended (an end id, or `row_stop(token)`, (B,)
        bool, says so: `alm.loops.LoopGuard.update`) or `max_new_tokens` tokens came or `stop()` says so. Rows that
        ended get `eos_token_id[0]` (they are padding from then on)."""
        B, L, _ = inputs_embeds.shape
        self._threads = torch.get_num_threads()
        kernel_steps = self.gemv is not None and B <= self.gemv.max_rows  # each decode step's products: the kernel's
        mask_rows = attention_mask.to(self.device).bool()  # B, L
        padded = not bool(mask_rows.all())
        cache = _Cache(self, B, L + max_new_tokens)
        positions = (mask_rows.long().cumsum(-1) - 1).clamp(min=0)  # B, L
        seen = torch.zeros(B, L + max_new_tokens, dtype=torch.bool, device=self.device)  # slots a row attends to
        seen[:, :L] = mask_rows
        mask = None
        if padded:  # causal and padding: B, 1, L, L
            causal = torch.ones(L, L, dtype=torch.bool, device=self.device).tril()
            mask = causal[None, None] & mask_rows[:, None, None, :]
            mask = mask | ~mask.any(-1, keepdim=True)  # fully padded query rows attend somewhere (ignored)
        hidden = self._forward(inputs_embeds.to(self.dtype), self._rotary(positions), cache, mask, causal=True)
        logits = self._logits(hidden[:, -1])
        first = positions[:, -1] + 1  # B: each row's position of its first new token
        # cos, signed sin of every position a new token can take: (B, 1, max_new_tokens, Dh), one slice per step
        cos, sin = self._rotary(first[:, None] + torch.arange(max_new_tokens, device=self.device))
        ends = torch.tensor(eos_token_id, device=self.device)
        done = torch.zeros(B, dtype=torch.bool, device=self.device)
        for step in range(max_new_tokens):
            token = self._choose(logits, do_sample, temperature, top_p)
            if B > 1:  # one row alone stops at its end; in a batch, ended rows pad
                token = torch.where(done, ends[0], token)
            yield token
            done = done | torch.isin(token, ends)
            if row_stop is not None:
                done = done | row_stop(token)
            if bool(done.all()) or step == max_new_tokens - 1 or (stop is not None and stop()):
                return
            if padded:
                seen[:, cache.length] = True
                mask = seen[:, None, None, : cache.length + 1]
            with self._kernel_step() if kernel_steps else nullcontext():
                x = self.embed(token[:, None]).to(self.dtype)  # B, 1, D
                hidden = self._forward(x, (cos[:, :, step : step + 1], sin[:, :, step : step + 1]), cache, mask,
                                       causal=False)
                logits = self._logits(hidden[:, -1])

    @staticmethod
    def _choose(logits: torch.Tensor, do_sample: bool, temperature: float | None, top_p: float | None) -> torch.Tensor:
        """Greedy (argmax), or sampling as transformers does it: temperature, then top-p, then multinomial."""
        if not do_sample:
            return logits.argmax(-1)
        scores = logits / (temperature or 1.0)
        if top_p is not None and top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=False)
            cumulative = sorted_scores.softmax(-1).cumsum(-1)
            remove = cumulative <= (1 - top_p)
            remove[..., -1:] = False  # keep at least one token
            scores = scores.masked_fill(remove.scatter(1, order, remove), float("-inf"))
        return torch.multinomial(scores.softmax(-1), num_samples=1).squeeze(1)


class _Cache:
    """Keys and values of every layer, (B, Hk, S, Dh) each, allocated once for the whole answer."""

    def __init__(self, model: FastLlama, batch: int, size: int):
        shape = (batch, model.kv_heads, size, model.head_dim)
        self.k = [torch.empty(shape, dtype=model.dtype, device=model.device) for _ in model.layers]
        self.v = [torch.empty(shape, dtype=model.dtype, device=model.device) for _ in model.layers]
        self.length = 0

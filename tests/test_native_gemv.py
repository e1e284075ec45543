"""The native bfloat16 decode kernel (`alm.kernels`): it computes what `F.linear` computes, FastLlama decodes the
same tokens with it as without, and building it reports why not instead of failing (no compiler, a broken source,
switched off); a built library is reused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaForCausalLM

from alm.fast_llm import FastLlama
from alm.kernels import build, gemv
from tests.conftest import tiny_llama_config

needs_compiler = pytest.mark.skipif(build.compiler() is None, reason="no C compiler on this machine")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("ALM_HOME", str(tmp_path))
    monkeypatch.delenv("ALM_NATIVE_KERNELS", raising=False)
    gemv.load.cache_clear()
    loaded = gemv.load()
    yield loaded
    gemv.load.cache_clear()


@needs_compiler
@pytest.mark.parametrize("x_shape, out", [((1, 1, 576), 3072), ((2, 257), 37), ((1, 1536), 576), ((1, 1, 64), 5)])
def test_kernel_computes_linear(kernel, x_shape, out):
    assert kernel is not None, "a compiler is here, so the kernel must build and pass its check"
    torch.manual_seed(0)
    x = torch.randn(x_shape).to(torch.bfloat16)
    w = torch.randn(out, x_shape[-1]).to(torch.bfloat16)
    assert kernel.takes(x, w)
    got, want = kernel(x, w), F.linear(x, w)
    assert got.shape == want.shape and got.dtype == torch.bfloat16
    # summed in float32 in another order, each rounded once to bfloat16: within a bfloat16 step or two
    assert torch.allclose(got.float(), want.float(), rtol=1e-2, atol=1e-2 * float(want.float().abs().max()))


@needs_compiler
def test_kernel_takes_only_few_bfloat16_rows(kernel):
    w = torch.randn(8, 16).to(torch.bfloat16)
    assert kernel.takes(torch.randn(2, 16).to(torch.bfloat16), w)
    assert not kernel.takes(torch.randn(gemv.MAX_ROWS + 1, 16).to(torch.bfloat16), w)  # a prompt: PyTorch's GEMM
    assert not kernel.takes(torch.randn(1, 16), w.float())
    assert not kernel.takes(torch.randn(1, 8).to(torch.bfloat16), w.t())  # not contiguous
    with pytest.raises(ValueError, match="input width"):
        kernel(torch.randn(1, 15).to(torch.bfloat16), w)


@needs_compiler
def test_fast_llama_decodes_the_same_tokens_with_the_kernel(kernel):
    torch.manual_seed(0)
    llm = LlamaForCausalLM(tiny_llama_config(96)).eval().to(torch.bfloat16)
    embeds = torch.randn(1, 9, 64).to(torch.bfloat16)
    mask = torch.ones(1, 9, dtype=torch.long)
    native = FastLlama(llm)
    assert native.gemv is kernel is not None
    plain = FastLlama(llm)
    plain.gemv = None
    with torch.no_grad():
        tokens = [int(t) for t in native.generate(embeds, mask, 12, eos_token_id=[-1])]
        reference = [int(t) for t in plain.generate(embeds, mask, 12, eos_token_id=[-1])]
    assert tokens == reference


def test_no_compiler_is_a_reason_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ALM_HOME", str(tmp_path))
    monkeypatch.setenv("CC", "/nowhere/cc")
    path, why = build.shared_library(gemv.SOURCE)
    assert path is None and "no C compiler" in why
    gemv.load.cache_clear()
    try:
        assert gemv.load() is None
    finally:
        gemv.load.cache_clear()


def test_switched_off_by_environment(monkeypatch):
    monkeypatch.setenv("ALM_NATIVE_KERNELS", "0")
    gemv.load.cache_clear()
    try:
        assert gemv.load() is None
    finally:
        gemv.load.cache_clear()


@needs_compiler
def test_a_broken_source_says_why_and_a_good_one_is_built_once(tmp_path, monkeypatch):
    monkeypatch.setenv("ALM_HOME", str(tmp_path / "home"))
    broken = tmp_path / "broken.c"
    broken.write_text("int f(void) { return }\n")
    path, why = build.shared_library(broken)
    assert path is None and "could not build broken.c" in why
    good = tmp_path / "good.c"
    good.write_text("int twice(int x) { return 2 * x; }\n")
    path, how = build.shared_library(good)
    assert path is not None and path.is_file() and how.startswith(Path(build.compiler()).name)
    built = path.stat().st_mtime_ns
    again, how_again = build.shared_library(good)
    assert again == path and again.stat().st_mtime_ns == built and how_again == how
    assert not list(path.parent.glob(".*.tmp"))  # no temp files left


@needs_compiler
def test_kernel_from_several_threads_and_after_fork(kernel):
    """Callers on other threads share the pool or run alone (never wait on each other's helpers); a forked child
    starts helpers of its own instead of waiting for the parent's, which it does not have."""
    import multiprocessing
    import threading

    torch.manual_seed(0)
    weights = [torch.randn(96, 64).to(torch.bfloat16) for _ in range(4)]
    inputs = [torch.randn(1, 64).to(torch.bfloat16) for _ in range(4)]
    wanted = [F.linear(x, w).float() for x, w in zip(inputs, weights)]
    wrong = []

    def work(k):
        for _ in range(200):
            got = kernel(inputs[k], weights[k], 2).float()
            if not torch.allclose(got, wanted[k], rtol=1e-2, atol=1e-2 * float(wanted[k].abs().max())):
                wrong.append(k)

    def child_work():  # only the kernel: PyTorch's own OpenMP may not be used after a fork
        work(0)
        if wrong:
            raise SystemExit(1)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and not wrong
    child = multiprocessing.get_context("fork").Process(target=child_work)
    child.start()
    child.join(timeout=120)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0 and not wrong

"""A tiny random-weight Stable Diffusion pipeline, built in code and saved with save_pretrained.

It runs the real diffusers code path (text encoder, UNet, VAE, scheduler) in milliseconds
on a CPU with no download: tests, the batching benchmark and a first look at
``text2image up --model diffusers:DIR`` use it. Its images are noise-like colour fields,
not pictures; only the plumbing is real. Same ``seed``, same weights.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

START, END = "<|startoftext|>", "<|endoftext|>"
# A few merges so the tokenizer really runs BPE, not only single characters.
MERGES = [("a", "t</w>"), ("c", "a"), ("ca", "t</w>"), ("o", "w</w>"), ("f", "l"), ("fl", "ow</w>")]


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (as CLIP's tokenizer does)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = [], 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return symbols


def write_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    """vocab.json and merges.txt for a CLIP tokenizer: every byte symbol, alone and word-final,
    the merged tokens, and the start/end tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = [*_byte_symbols(), *(symbol + "</w>" for symbol in _byte_symbols()), *(a + b for a, b in MERGES), START, END]
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    vocab.write_text(json.dumps({token: index for index, token in enumerate(tokens)}), encoding="utf-8")
    merges.write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in MERGES), encoding="utf-8")
    return vocab, merges


def build_tiny_pipeline(out_dir: Path, seed: int = 0) -> Path:
    """Save a complete StableDiffusionPipeline (about 4 MB) to ``out_dir``."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    with tempfile.TemporaryDirectory() as sources:
        vocab, merges = write_tokenizer_files(Path(sources))
        tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=77)
    torch.manual_seed(seed)
    width = 32  # text embedding width = the UNet's cross-attention width
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=width,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            max_position_embeddings=77,
            projection_dim=width,
            bos_token_id=tokenizer.convert_tokens_to_ids(START),
            eos_token_id=tokenizer.convert_tokens_to_ids(END),
            pad_token_id=tokenizer.convert_tokens_to_ids(END),
        )
    )
    unet = UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=width,
        attention_head_dim=8,
        norm_num_groups=8,
    )
    # Four blocks: the latents are 1/8 of the image side, as in every Stable Diffusion.
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=1,
        norm_num_groups=8,
        sample_size=64,
    )
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(out_dir)
    return out_dir

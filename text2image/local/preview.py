"""The ``preview`` model: a fast, deterministic stand-in for Stable Diffusion.

It draws an image from prompt + seed + size in a few milliseconds: a gradient whose
colours come from the prompt, shapes placed by the seed, the prompt's words, and a
PREVIEW badge so nobody mistakes it for a diffusion output. The same inputs always give
the same bytes; different prompts look clearly different.
"""

from __future__ import annotations

import hashlib
import random
import textwrap

from PIL import Image, ImageDraw, ImageFont


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def render(prompt: str, seed: int, width: int, height: int) -> Image.Image:
    """An RGB image of exactly ``width`` x ``height``."""
    prompt_rng = random.Random(hashlib.sha256(prompt.encode()).digest())
    seed_rng = random.Random(seed)
    top, bottom = _colour(prompt_rng), _colour(prompt_rng)
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), gradient)
    draw = ImageDraw.Draw(image)
    for _ in range(6 + seed_rng.randrange(6)):
        x, y = seed_rng.randrange(width), seed_rng.randrange(height)
        r = seed_rng.randrange(min(width, height) // 16, min(width, height) // 4)
        box = (x - r, y - r, x + r, y + r)
        if seed_rng.random() < 0.5:
            draw.ellipse(box, fill=_colour(seed_rng), outline=(255, 255, 255), width=2)
        else:
            draw.rectangle(box, fill=_colour(seed_rng))
    font = ImageFont.load_default(size=max(12, height // 24))
    lines = textwrap.wrap(prompt, width=max(10, width // max(8, height // 40)))[:4]
    draw.multiline_text((16, 16), "\n".join(lines), fill=(255, 255, 255), font=font, stroke_width=2, stroke_fill=(0, 0, 0))
    badge = f"PREVIEW seed {seed}"
    badge_font = ImageFont.load_default(size=max(10, height // 32))
    left, top_, right, bottom_ = draw.textbbox((0, 0), badge, font=badge_font)
    bx, by = width - (right - left) - 16, height - (bottom_ - top_) - 16
    draw.rectangle((bx - 6, by - 6, width - 10, height - 10), fill=(0, 0, 0))
    draw.text((bx, by - top_), badge, fill=(255, 214, 0), font=badge_font)
    return image

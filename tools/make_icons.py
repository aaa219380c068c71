"""Draws the app's icons (assets/icons/, committed; the web app manifest names them): a grid of
channel gates in the heatmaps' cividis ramp under a lens, on the page's background colour.

    .venv/bin/python tools/make_icons.py

icon-192.png and icon-512.png have rounded corners ("any"); icon-maskable-512.png fills its square
and keeps the drawing inside the central 80% circle that platforms may crop to ("maskable").
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent.parent / "assets" / "icons"
BACKGROUND = (15, 20, 25)  # --bg in www/style.css
ACCENT = (240, 192, 64)  # --accent
# Cividis at 0, ¼, ½, ¾, 1 (the ramp of src/ui/heatmap.rs), interpolated linearly between.
CIVIDIS = [(0, 32, 77), (65, 77, 107), (124, 123, 120), (188, 175, 111), (255, 234, 70)]
SUPERSAMPLE = 4


def cividis(value):
    position = min(max(value, 0.0), 1.0) * (len(CIVIDIS) - 1)
    i = min(int(position), len(CIVIDIS) - 2)
    t = position - i
    return tuple(round(a + (b - a) * t) for a, b in zip(CIVIDIS[i], CIVIDIS[i + 1]))


def draw(size, maskable):
    s = size * SUPERSAMPLE
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, s, s), fill=BACKGROUND)
    else:
        pen.rounded_rectangle((0, 0, s - 1, s - 1), radius=s // 5, fill=BACKGROUND)
    # The drawing's box: the safe zone of a maskable icon, a margin on the plain one.
    box = s * (0.2 if maskable else 0.12)
    span = s - 2 * box
    # A 5x5 grid of gates: a smooth pattern, brighter towards the lens.
    cells = 5
    gap = span * 0.03
    cell = (span - gap * (cells - 1)) / cells
    for row in range(cells):
        for col in range(cells):
            gate = 1 / (1 + math.exp(-(2.2 * math.sin(1.3 * col + 0.7 * row) + 1.1 * math.cos(0.9 * row - 0.4 * col))))
            x = box + col * (cell + gap)
            y = box + row * (cell + gap)
            pen.rounded_rectangle((x, y, x + cell, y + cell), radius=cell * 0.15, fill=cividis(gate))
    # The lens: a ring over the grid's upper left, with a handle to the lower right.
    centre = (box + span * 0.42, box + span * 0.42)
    radius = span * 0.3
    width = span * 0.075
    end = (box + span * 0.95, box + span * 0.95)
    offset = radius / math.sqrt(2)
    ring = (centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius)
    handle = (centre[0] + offset, centre[1] + offset, *end)
    # Drawn twice: a wider dark halo first, so the lens stands out from bright cells.
    for colour, extra in ((BACKGROUND, span * 0.04), (ACCENT, 0)):
        pen.line(handle, fill=colour, width=round(width * 1.6 + extra))
        halo = (ring[0] - extra / 2, ring[1] - extra / 2, ring[2] + extra / 2, ring[3] + extra / 2)
        pen.ellipse(halo, outline=colour, width=round(width + extra))
    return image.resize((size, size), Image.LANCZOS)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    draw(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    for path in sorted(OUT.glob("*.png")):
        print(f"{path.relative_to(OUT.parent.parent)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()

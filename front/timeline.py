"""A picture of a game's timeline: the whole game as a bar, each rally a block on it
that plays that rally when clicked, or focused and Enter or Space pressed (inline SVG,
no image files)."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT = 1000, 48


def timeline_svg(duration: float, rallies) -> str:
    blocks = format_html_join(
        "", '<rect class="rally" data-index="{}" x="{}" y="8" width="{}" height="26" rx="2" tabindex="0" '
        'role="button" aria-label="Play rally {}, {} to {}"><title>Rally {}: {} to {}</title></rect>',
        ((r.index, f"{_x(r.start, duration):.1f}", f"{max(_x(r.end, duration) - _x(r.start, duration), 2.0):.1f}",
          r.index, clock(r.start), clock(r.end), r.index, clock(r.start), clock(r.end)) for r in rallies),
    )
    ticks = format_html_join(
        "", '<text x="{}" y="46" class="tick">{}</text>',
        ((f"{_x(t, duration):.1f}", clock(t)) for t in _ticks(duration)),
    )
    return format_html(
        '<svg class="timeline" viewBox="0 0 {} {}" role="group" aria-label="Rallies on the game\'s timeline">'
        '<rect class="game" x="0" y="8" width="{}" height="26" rx="3"></rect>{}{}</svg>',
        WIDTH, HEIGHT, WIDTH, blocks, ticks,
    )


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _x(t: float, duration: float) -> float:
    return WIDTH * min(max(t / duration, 0.0), 1.0)


def _ticks(duration: float) -> list[float]:
    step = next((s for s in (30, 60, 300, 600, 900, 1800) if duration / s <= 8), 3600)
    return [float(t) for t in range(0, int(duration), step)]


def duration_words(seconds: float) -> str:
    """A rally's length: "7 s" under a minute, "1:05" past one."""
    return f"{max(0, round(seconds))} s" if seconds < 59.5 else clock(seconds)

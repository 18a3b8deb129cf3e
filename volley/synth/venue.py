"""Where the game is played: court, net and hall (or beach) sizes and colours."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from volley.synth.spec import BEHIND_AN_END

BALL_R = 0.105  # volleyball radius, metres
NET_TOP = 2.43
G = 9.81

# Colours are BGR floats 0..255 (OpenCV order).
_INDOOR_FLOORS = [
    # (inside, outside, lines, kind)
    ((40, 110, 215), (160, 92, 42), (245, 245, 245), "synthetic"),  # orange / blue
    ((170, 104, 52), (92, 134, 66), (245, 245, 245), "synthetic"),  # blue / green
    ((96, 150, 196), (112, 164, 208), (40, 40, 40), "wood"),  # stained wood, dark lines
    ((104, 158, 204), (110, 165, 210), (60, 200, 235), "wood"),  # plain wood, yellow lines
    ((82, 128, 72), (58, 82, 168), (240, 240, 240), "synthetic"),  # green / terracotta
    ((128, 122, 118), (52, 58, 150), (245, 245, 245), "synthetic"),  # grey / red
]
_PADS = [(150, 80, 30), (60, 110, 40), (40, 40, 160), (90, 90, 90), (140, 60, 20)]
_WALLS = [(200, 205, 210), (170, 190, 205), (215, 215, 205), (150, 155, 160), (185, 200, 215)]
_SANDS = [(150, 198, 224), (138, 186, 214), (160, 205, 228), (128, 172, 200)]
_BEACH_LINES = [(190, 90, 30), (40, 40, 200), (230, 230, 230)]
_JERSEYS = [(30, 30, 200), (200, 90, 20), (30, 180, 240), (40, 140, 30), (240, 240, 240),
            (30, 30, 30), (140, 40, 120), (20, 110, 240), (120, 60, 0)]
SKINS = [(150, 180, 225), (120, 155, 205), (90, 125, 175), (60, 85, 130), (45, 65, 100), (165, 195, 235)]
HAIRS = [(20, 20, 25), (30, 45, 70), (40, 70, 110), (90, 150, 200), (60, 60, 60), (25, 35, 50)]


@dataclass
class Venue:
    setting: str
    half_w: float  # court half width (x), metres
    half_l: float  # court half length (y)
    net_top: float
    net_low: float  # bottom edge of the mesh
    net_half: float  # half length of the net
    post_x: float  # posts at x = +-post_x
    hall_x: tuple[float, float]  # walls (indoor) or play limits (beach)
    hall_y: float  # walls at y = +-hall_y
    ceiling: float  # indoor ceiling height (beach: unused)
    restitution: float  # ball bounce on the floor
    keep: float  # horizontal speed kept per bounce
    roll_decel: float  # m/s^2 while rolling
    floor_in: tuple
    floor_out: tuple
    line: tuple
    floor_kind: str  # synthetic, wood, sand
    pad: tuple = (150, 80, 30)
    wall: tuple = (200, 205, 210)
    jerseys: tuple = ((30, 30, 200), (200, 90, 20))
    ball_colours: tuple = ((30, 215, 245), (170, 90, 20))
    neighbour: tuple[float, float] | None = None  # centre of a neighbouring court
    stands: int = 1  # stands along the wall at x = stands * ..., or far side for a side view
    sun: tuple[float, float, float] = (0.3, 0.5, 0.8)  # unit vector towards the light
    extras: dict = field(default_factory=dict)

    @property
    def indoor(self) -> bool:
        return self.setting == "indoor"


def make_venue(setting: str, view: str, distractors: bool, cam_back: float, rng: np.random.Generator) -> Venue:
    """A random hall or beach for `setting`, roomy enough for the camera `cam_back` m behind."""
    if setting == "indoor":
        hw, hl = 4.5, 9.0
        fin, fout, line, kind = _INDOOR_FLOORS[rng.integers(len(_INDOOR_FLOORS))]
        net_half, post_x = 5.0, 5.5
        restitution, keep, decel = rng.uniform(0.62, 0.72), 0.82, rng.uniform(0.45, 0.8)
    else:
        hw, hl = 4.0, 8.0
        sand = _SANDS[rng.integers(len(_SANDS))]
        fin, fout = sand, sand
        line = _BEACH_LINES[rng.integers(len(_BEACH_LINES))]
        kind = "sand"
        net_half, post_x = 4.25, 4.8
        restitution, keep, decel = rng.uniform(0.18, 0.3), 0.45, rng.uniform(3.0, 5.0)
    stands = int(rng.choice([-1, 1])) if view in BEHIND_AN_END else 1
    neighbour = None
    gap = rng.uniform(3.0, 5.0)
    if distractors:
        if view in BEHIND_AN_END:
            neighbour = (-stands * (2 * hw + gap), 0.0)
        else:
            neighbour = (0.0, float(rng.choice([-1, 1])) * (2 * hl + gap + 1.0))
    side_room = rng.uniform(4.0, 6.5)
    xs = [-(hw + side_room), hw + side_room]
    stand_depth = 6.0
    if view in BEHIND_AN_END:
        xs[(stands + 1) // 2] = stands * (hw + 3.5 + stand_depth)
        if neighbour is not None:
            xs[(1 - stands) // 2] = neighbour[0] + np.sign(neighbour[0]) * (hw + rng.uniform(2.5, 4.0))
    else:
        xs[1] = hw + 3.5 + stand_depth
        xs[0] = -(hw + cam_back + rng.uniform(1.5, 4.0))
    hall_y = hl + max(cam_back + rng.uniform(1.5, 3.0), 6.5) if view in BEHIND_AN_END else hl + rng.uniform(5.5, 8.0)
    if neighbour is not None and view == "side":
        hall_y = abs(neighbour[1]) + hl + rng.uniform(3.0, 5.0)
    if setting == "beach":
        xs = [min(xs[0], -40.0), max(xs[1], 40.0)]
        hall_y = max(hall_y, 40.0)
    jerseys = rng.choice(len(_JERSEYS), size=2, replace=False)
    ball = [((30, 215, 245), (170, 90, 20)), ((235, 235, 235), (170, 90, 20)),
            ((30, 215, 245), (150, 70, 10))][rng.integers(3)]
    sun_az = rng.uniform(0, 2 * np.pi)
    sun_el = rng.uniform(0.6, 1.2)
    return Venue(
        setting=setting, half_w=hw, half_l=hl, net_top=NET_TOP, net_low=NET_TOP - 1.0,
        net_half=net_half, post_x=post_x, hall_x=(float(xs[0]), float(xs[1])), hall_y=float(hall_y),
        ceiling=float(rng.uniform(9.0, 12.5)), restitution=float(restitution), keep=float(keep),
        roll_decel=float(decel), floor_in=tuple(map(float, fin)), floor_out=tuple(map(float, fout)),
        line=tuple(map(float, line)), floor_kind=kind,
        pad=tuple(map(float, _PADS[rng.integers(len(_PADS))])),
        wall=tuple(map(float, _WALLS[rng.integers(len(_WALLS))])),
        jerseys=(tuple(map(float, _JERSEYS[jerseys[0]])), tuple(map(float, _JERSEYS[jerseys[1]]))),
        ball_colours=ball, neighbour=neighbour, stands=stands,
        sun=(float(np.cos(sun_az) * np.cos(sun_el)), float(np.sin(sun_az) * np.cos(sun_el)), float(np.sin(sun_el))),
        extras={"view": view},
    )

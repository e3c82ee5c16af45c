"""How far off a ground point cast from a drone camera may be: the pose error through the ray cast. Pure.

A ray from a sensor `height_m` above flat ground, pointing down at a depression angle d below the
horizon, meets the ground at slant range R = height / sin(d). Tilt the ray by a small angle a:

- across the line of sight the ground point moves R * a;
- along it (in the vertical plane of the ray) it moves R * a / sin(d), since the ray meets the
  ground at the grazing angle d: straight down the two are equal, at 30 degrees above the
  ground the along-range step is twice the cross-range one, and towards the horizon it grows
  without bound.

An error of the sensor's own position moves the ground point by as much. `accuracy_m` is one
number, so it takes the larger (along-range) axis of that error ellipse: sqrt(position^2 +
(R * a / sin(d))^2). This is the first-order form of casting the ray with its angle perturbed by
+-a and measuring the ground displacement (tests/unit/test_accuracy.py checks the two agree).
"""

from __future__ import annotations

import math

Vec3 = tuple[float, float, float]

# A ray this close to the horizon meets the ground further than any camera resolves anything.
MIN_SIN_DEPRESSION = 1e-3


def raycast_accuracy_m(ray: Vec3, height_m: float, position_sigma_m: float, angle_sigma_deg: float) -> float | None:
    """One-sigma horizontal accuracy (m) of where a unit north-east-down `ray` meets flat ground.

    `height_m`: the sensor above the ground; `position_sigma_m`: the sensor's horizontal position
    error; `angle_sigma_deg`: the line of sight's angular error (attitude, gimbal, pixel). None when
    the ray does not come down to the ground.

    >>> round(raycast_accuracy_m((0.0, 0.0, 1.0), 100.0, 0.0, 1.0), 3)  # straight down: 100 m * 1 deg
    1.745
    >>> d = math.radians(30.0)  # 60 degrees off nadir: twice the range, and half the grazing angle's sine
    >>> round(raycast_accuracy_m((math.cos(d), 0.0, math.sin(d)), 100.0, 0.0, 1.0), 3)
    6.981
    >>> raycast_accuracy_m((1.0, 0.0, 0.0), 100.0, 3.0, 1.0) is None  # level: never meets the ground
    True
    """
    for name, value in (("position_sigma_m", position_sigma_m), ("angle_sigma_deg", angle_sigma_deg)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number, not {value}")
    north, east, down = ray
    norm = math.sqrt(north * north + east * east + down * down)
    if not (math.isfinite(height_m) and height_m > 0 and norm > 0):
        return None
    sin_d = down / norm
    if not sin_d >= MIN_SIN_DEPRESSION:
        return None
    slant = height_m / sin_d
    along = slant * math.radians(angle_sigma_deg) / sin_d
    return math.hypot(position_sigma_m, along)

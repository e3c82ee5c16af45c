// Class icons for live tracks, drawn here on a canvas (no image files, no fonts): a round badge with a
// white pictogram, coloured by role, and a separate heading wedge that the map rotates.

export const ICON_CLASSES = [
  "person", "car", "truck", "bus", "motorcycle", "bicycle", "drone", "aircraft", "moving_object", "unknown",
] as const;
export type IconClass = (typeof ICON_CLASSES)[number];

export const ROLE_COLOURS: Record<string, string> = { patrol: "#2f855a", target: "#1a202c" };

// Other names the sources use for the same things (COCO, ADS-B, Remote ID).
const ALIASES: Record<string, IconClass> = {
  pedestrian: "person", airplane: "aircraft", aeroplane: "aircraft", plane: "aircraft", helicopter: "aircraft",
  motorbike: "motorcycle", bike: "bicycle", uav: "drone", uas: "drone", van: "car", pickup: "car",
};

/** The icon a subject class is drawn with (unknown for anything else). */
export function iconClass(cls: string | null | undefined): IconClass {
  const c = (cls ?? "").toLowerCase();
  return (ICON_CLASSES as readonly string[]).includes(c) ? (c as IconClass) : ALIASES[c] ?? "unknown";
}

export const SIZE = 40; // CSS pixels (room for the heading wedge round the badge); drawn at 2x for phones
const SCALE = 2;
const R = 11; // badge radius

type Ctx = CanvasRenderingContext2D;
const circle = (c: Ctx, x: number, y: number, r: number) => { c.beginPath(); c.arc(x, y, r, 0, 2 * Math.PI); };
const poly = (c: Ctx, pts: number[]) => {
  c.beginPath();
  c.moveTo(pts[0], pts[1]);
  for (let i = 2; i < pts.length; i += 2) c.lineTo(pts[i], pts[i + 1]);
};
const wheels = (c: Ctx, bg: string, xs: number[], y: number, r: number) => {
  for (const x of xs) {
    circle(c, x, y, r);
    c.fillStyle = bg;
    c.fill();
    c.stroke();
  }
};

// Pictograms in a 16 x 16 box centred on the origin; fill and stroke are white, `bg` is the badge colour.
const PICTOGRAMS: Record<IconClass, (c: Ctx, bg: string) => void> = {
  person(c) {
    circle(c, 0, -5.2, 2.4); c.fill();
    poly(c, [0, -2, 0, 3]); c.stroke();
    poly(c, [-4, 0, 0, -1.5, 4, 0]); c.stroke();
    poly(c, [-3, 7.5, 0, 3, 3, 7.5]); c.stroke();
  },
  car(c, bg) {
    poly(c, [-4.5, -1.5, -2.8, -5, 2.8, -5, 4.5, -1.5]); c.fill();
    c.beginPath(); c.roundRect(-7.5, -2, 15, 5, 1.5); c.fill();
    wheels(c, bg, [-4, 4], 3.5, 1.8);
  },
  truck(c, bg) {
    c.fillRect(-7.5, -5.5, 9.5, 8);
    poly(c, [3, -3, 5.5, -3, 7.5, -0.5, 7.5, 2.5, 3, 2.5]); c.fill();
    wheels(c, bg, [-4.5, 4.5], 3.8, 1.8);
  },
  bus(c, bg) {
    c.beginPath(); c.roundRect(-7.5, -5.5, 15, 9, 2); c.fill();
    c.fillStyle = bg;
    for (const x of [-6, -2.5, 1, 4.5]) c.fillRect(x, -4, 2.5, 2.8);
    c.fillStyle = "#fff";
    wheels(c, bg, [-4.5, 4.5], 3.8, 1.7);
  },
  motorcycle(c) {
    circle(c, -5, 3, 2.7); c.stroke();
    circle(c, 5, 3, 2.7); c.stroke();
    poly(c, [-5, 3, -1.5, -0.5, 3, -0.5, 5, 3]); c.stroke();
    poly(c, [2.5, -0.5, 3.5, -4.5, 5.5, -4.5]); c.stroke();
    c.fillRect(-3.5, -2.8, 4.5, 2);
  },
  bicycle(c) {
    circle(c, -4.5, 3, 3.2); c.stroke();
    circle(c, 4.5, 3, 3.2); c.stroke();
    poly(c, [-4.5, 3, -1, -3, 3.5, -3, 4.5, 3]); c.stroke();
    poly(c, [-1, -3, 0.5, 3, -4.5, 3]); c.stroke();
    poly(c, [0.5, 3, 3.5, -3]); c.stroke();
    poly(c, [-2.5, -4.8, 0, -4.8]); c.stroke();
    poly(c, [3, -5.5, 5, -5.5]); c.stroke();
  },
  drone(c) {
    poly(c, [-5, -5, 5, 5]); c.stroke();
    poly(c, [5, -5, -5, 5]); c.stroke();
    for (const [x, y] of [[-5, -5], [5, -5], [-5, 5], [5, 5]]) { circle(c, x, y, 2.6); c.stroke(); }
    c.fillRect(-2, -2, 4, 4);
  },
  aircraft(c) {
    poly(c, [0, -8, 1.3, -6, 1.3, 6, -1.3, 6, -1.3, -6]); c.fill();
    poly(c, [-8, 1.5, -1, -3, 1, -3, 8, 1.5, 8, 3, 0, 0.5, -8, 3]); c.fill();
    poly(c, [-3.5, 7.5, 0, 5, 3.5, 7.5]); c.fill();
  },
  moving_object(c) {
    circle(c, 2.5, 0, 4); c.fill();
    for (const [y, x0] of [[-3, -6], [0, -8], [3, -6]]) { poly(c, [x0, y, -3, y]); c.stroke(); }
  },
  unknown(c) {
    c.beginPath(); c.arc(0, -2.8, 3.6, Math.PI * 1.05, Math.PI * 2.35); c.lineTo(0, 2.2); c.stroke();
    circle(c, 0, 5.8, 1.4); c.fill();
  },
};

function canvas(size = SIZE): [HTMLCanvasElement, Ctx] {
  const el = document.createElement("canvas");
  el.width = el.height = size * SCALE;
  const c = el.getContext("2d")!;
  c.scale(SCALE, SCALE);
  c.translate(size / 2, size / 2);
  return [el, c];
}

/** A class badge: a coloured disc with a white ring and the class pictogram. */
export function drawBadge(cls: IconClass, colour: string, size = SIZE): HTMLCanvasElement {
  const [el, c] = canvas(size);
  circle(c, 0, 0, R);
  c.fillStyle = colour;
  c.fill();
  c.lineWidth = 1.5;
  c.strokeStyle = "#fff";
  c.stroke();
  c.save();
  c.scale(0.78, 0.78); // the 16 px pictogram inside the 22 px disc
  c.fillStyle = c.strokeStyle = "#fff";
  c.lineWidth = 1.7;
  c.lineCap = c.lineJoin = "round";
  PICTOGRAMS[cls](c, colour);
  c.restore();
  return el;
}

/** The heading wedge: points up (north) outside the badge; the map rotates it by the heading. */
export function drawHeading(colour: string): HTMLCanvasElement {
  const [el, c] = canvas();
  poly(c, [0, -SIZE / 2 + 1, 6, -R + 2, -6, -R + 2]);
  c.closePath();
  c.fillStyle = colour;
  c.fill();
  c.lineWidth = 1;
  c.strokeStyle = "#fff";
  c.stroke();
  return el;
}

/** Pixels MapLibre's addImage takes, with the pixel ratio they were drawn at. */
export function imageOf(el: HTMLCanvasElement): [ImageData, { pixelRatio: number }] {
  return [el.getContext("2d")!.getImageData(0, 0, el.width, el.height), { pixelRatio: SCALE }];
}

const urls = new Map<string, string>();

/** A data: URL of a class badge (targets' colour), for <img> in the feed and the detail. */
export function iconUrl(cls: string | null | undefined): string {
  const key = iconClass(cls);
  let url = urls.get(key);
  if (!url) urls.set(key, (url = drawBadge(key, ROLE_COLOURS.target, 2 * R + 2).toDataURL()));
  return url;
}

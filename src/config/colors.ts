// Colour arithmetic for the company's own colours: WCAG 2 contrast, and a shade of a colour that
// stays readable on a given background (links in dark mode, where the brand colour is too dark).

export const HEX_COLOR = /^#[0-9a-f]{6}$/i;

type Rgb = [number, number, number];

function rgb(hex: string): Rgb {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function hex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((c) => Math.round(c).toString(16).padStart(2, '0')).join('')}`;
}

/** Relative luminance (WCAG 2.x). */
function luminance(color: string): number {
  const [r, g, b] = rgb(color).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (light + 0.05) / (dark + 0.05);
}

function mix(a: string, b: string, weight: number): string {
  const [x, y] = [rgb(a), rgb(b)];
  return hex([0, 1, 2].map((i) => x[i] + (y[i] - x[i]) * weight) as Rgb);
}

/**
 * The colour itself when it reaches `min` contrast on `background`, else the first mix towards
 * white or black (whichever the background is not) that does.
 */
export function readableOn(color: string, background: string, min = 4.5): string {
  if (contrast(color, background) >= min) return color;
  const towards = luminance(background) < 0.5 ? '#ffffff' : '#000000';
  for (let step = 1; step <= 20; step++) {
    const shade = mix(color, towards, step / 20);
    if (contrast(shade, background) >= min) return shade;
  }
  return towards;
}

import type { Cents } from '@omnibus/sample-kit';

/** What the shop sells, at what unit price. The inventory service holds the stock of the same SKUs. */
export const CATALOG: Readonly<Record<string, Cents>> = Object.freeze({
  widget: 1_250,
  gadget: 3_000,
  gizmo: 725,
  'limited-print': 9_900,
  'sold-out': 4_500,
});

export const CURRENCY = 'EUR';

/** Money in the sample: integer cents in code and tables; decimal strings ("12.50") in the Avro contracts. */
export type Cents = number;

/** "12.50" → 1250. Throws a RangeError on anything that is not a decimal with at most two places. */
export function toCents(amount: string): Cents {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(amount);
  if (match === null) throw new RangeError(`not an amount: ${JSON.stringify(amount)}`);
  const cents = Number(match[2]) * 100 + Number((match[3] ?? '').padEnd(2, '0'));
  return match[1] === '-' ? -cents : cents;
}

/** 1250 → "12.50". */
export function toAmount(cents: Cents): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

// Values of command-line options (`npm run bench:x -- --duration 5`), read with node:util parseArgs.

export function positiveNumber(raw: string | boolean | undefined, name: string): number {
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`--${name} must be a positive number, not ${String(raw)}`);
  return value;
}

export function numberList(raw: string | boolean | undefined, name: string): number[] {
  return String(raw)
    .split(',')
    .map((item) => positiveNumber(item, name));
}

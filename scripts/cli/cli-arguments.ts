// Argument parsers the node CLI's commands share (commander calls them on each option value).
import { InvalidArgumentError } from 'commander';

export function positiveInteger(text: string): number {
  if (!/^[1-9]\d*$/.test(text)) throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  return Number(text);
}

// Last function of the sample application's chain: classifies a reading's z-score into a severity
// and formats the message an operator would see. Stateless.
import type { FunctionDefinition, FunctionOptions } from '../function-host/function-loader.ts';

export type Severity = 'normal' | 'warning' | 'critical';

export interface AlertResult {
  readonly severity: Severity;
  readonly message: string;
}

interface AlertInput {
  readonly sensorId: string;
  readonly celsius: number;
  readonly zScore: number;
}

function numberOption(options: FunctionOptions, name: string, fallback: number): number {
  const value = options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`alert option ${name} must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function classify(zScore: number, warningZ: number, criticalZ: number): Severity {
  const magnitude = Math.abs(zScore);
  if (magnitude >= criticalZ) return 'critical';
  return magnitude >= warningZ ? 'warning' : 'normal';
}

export function createFunction(options: FunctionOptions): FunctionDefinition {
  const warningZ = numberOption(options, 'warningZ', 2);
  const criticalZ = numberOption(options, 'criticalZ', 3);
  if (criticalZ < warningZ)
    throw new RangeError(`alert option criticalZ ${criticalZ} is below warningZ ${warningZ}`);
  return {
    name: 'alert',
    isStateful: false,
    handler: (request): AlertResult => {
      const { sensorId, celsius, zScore } = request.body as AlertInput;
      const severity = classify(Number(zScore), warningZ, criticalZ);
      const message =
        severity === 'normal'
          ? `${sensorId}: ${Number(celsius).toFixed(2)} °C`
          : `${sensorId}: ${Number(celsius).toFixed(2)} °C is ${Math.abs(Number(zScore)).toFixed(1)} standard deviations from its recent mean`;
      return { severity, message };
    },
  };
}

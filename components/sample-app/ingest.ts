// First function of the sample application's chain (ingest -> sensor-stats -> alert): validates and
// normalises a sensor reading (unit to °C), then calls sensor-stats with the sensor id as key and
// answers with the chain's result. Stateless: it moves without state transfer.
import { EdgeShiftError } from '../common/errors.ts';
import type { FunctionDefinition, FunctionOptions } from '../function-host/function-loader.ts';

export type TemperatureUnit = 'C' | 'F' | 'K';

export interface SensorReading {
  readonly sensorId: string;
  readonly value: number;
  readonly unit?: TemperatureUnit;
}

export interface NormalisedReading {
  readonly sensorId: string;
  readonly celsius: number;
}

const TO_CELSIUS: Record<TemperatureUnit, (value: number) => number> = {
  C: (value) => value,
  F: (value) => ((value - 32) * 5) / 9,
  K: (value) => value - 273.15,
};

function badReading(reason: string): EdgeShiftError {
  return new EdgeShiftError('ERR_APP_BAD_READING', `bad sensor reading: ${reason}`);
}

export function normaliseReading(body: unknown): NormalisedReading {
  if (typeof body !== 'object' || body === null) throw badReading('body must be an object');
  const { sensorId, value, unit = 'C' } = body as Record<string, unknown>;
  if (typeof sensorId !== 'string' || !/^[\w.:-]{1,128}$/.test(sensorId)) {
    throw badReading('sensorId must be 1-128 characters of letters, digits, _ . : -');
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw badReading('value must be a finite number');
  if (unit !== 'C' && unit !== 'F' && unit !== 'K')
    throw badReading(`unit must be C, F or K, got ${String(unit)}`);
  return { sensorId, celsius: TO_CELSIUS[unit](value) };
}

export function createFunction(options: FunctionOptions): FunctionDefinition {
  const statsService = typeof options.statsService === 'string' ? options.statsService : 'sensor-stats';
  return {
    name: 'ingest',
    isStateful: false,
    handler: async (request, ctx) => {
      const reading = normaliseReading(request.body);
      return await ctx.call(statsService, reading, reading.sensorId);
    },
  };
}

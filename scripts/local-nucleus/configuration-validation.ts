// Configuration validation round trips of the local nucleus: one validator stream per component
// (SubscribeToValidateConfigurationUpdates), a validate event per proposed deployment, and the component's
// SendConfigurationValidityReport answer. Used by local-nucleus.ts (mergeConfiguration) and
// operations/configuration.ts. Invariant: each request settles exactly once: with the report, or as
// 'timeout' after timeoutMs, or 'no-validator' when the component has no validator stream.
import { randomUUID } from 'node:crypto';

import { ModeledIpcError } from './service-model.ts';

export type ValidationSender = (deploymentId: string, configuration: Record<string, unknown>) => void;

export interface ValidityReport {
  readonly status: 'ACCEPTED' | 'REJECTED';
  readonly message?: string;
}

export type ValidationOutcome = ValidityReport | 'timeout' | 'no-validator';

export class ConfigurationValidation {
  private readonly validators = new Map<string, ValidationSender>();
  private readonly pending = new Map<string, (report: ValidityReport) => void>();

  /** Registers a component's validator stream; like the nucleus, the first stream of a component wins. */
  register(componentName: string, send: ValidationSender): () => void {
    if (this.validators.has(componentName)) return () => undefined;
    this.validators.set(componentName, send);
    return () => {
      if (this.validators.get(componentName) === send) this.validators.delete(componentName);
    };
  }

  hasValidator(componentName: string): boolean {
    return this.validators.has(componentName);
  }

  request(
    componentName: string,
    configuration: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<ValidationOutcome> {
    const send = this.validators.get(componentName);
    if (send === undefined) return Promise.resolve('no-validator');
    const deploymentId = randomUUID();
    const key = JSON.stringify([componentName, deploymentId]);
    return new Promise<ValidationOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(key);
        resolve('timeout');
      }, timeoutMs);
      this.pending.set(key, (report) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(report);
      });
      send(deploymentId, configuration);
    });
  }

  /** SendConfigurationValidityReport; the error texts are the nucleus's. */
  report(componentName: string, deploymentId: unknown, report: ValidityReport): void {
    if (typeof deploymentId !== 'string') {
      throw new ModeledIpcError(
        'aws.greengrass#InvalidArgumentsError',
        'Cannot accept configuration validity report, the deployment ID provided was null',
      );
    }
    const settle = this.pending.get(JSON.stringify([componentName, deploymentId]));
    if (settle === undefined) {
      throw new ModeledIpcError(
        'aws.greengrass#InvalidArgumentsError',
        'Validation request either timed out or was never made',
      );
    }
    settle(report);
  }
}

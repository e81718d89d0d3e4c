// IPC authorization of the local nucleus: reads each component's `accessControl` configuration (policies keyed
// by IPC service, e.g. aws.greengrass.ipc.pubsub / aws.greengrass.ipc.mqttproxy) and answers whether a component
// may run an operation on a resource. Called by the operations/ handlers; policies are set by local-nucleus.ts
// on registration and configuration changes. Invariant: anything not allowed by a policy of the principal itself
// is refused with UnauthorizedError and the nucleus's own message text.
import { ModeledIpcError } from './service-model.ts';
import { resourceMatches } from './topic-matching.ts';

export const PUBSUB_SERVICE = 'aws.greengrass.ipc.pubsub';
export const MQTT_PROXY_SERVICE = 'aws.greengrass.ipc.mqttproxy';

export interface AccessPolicy {
  readonly policyId: string;
  readonly destination: string;
  readonly operations: readonly string[];
  readonly resources: readonly string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const strings = value.filter((item): item is string => typeof item === 'string');
  return strings.length === value.length ? strings : undefined;
}

/**
 * Parses `accessControl` ({service: {policyId: {operations, resources, policyDescription?}}}). Policies without
 * operations or resources are skipped, as the nucleus skips (and logs) an invalid policy.
 */
export function parseAccessControl(accessControl: unknown): AccessPolicy[] {
  if (!isRecord(accessControl)) return [];
  const policies: AccessPolicy[] = [];
  for (const [destination, byId] of Object.entries(accessControl)) {
    if (!isRecord(byId)) continue;
    for (const [policyId, policy] of Object.entries(byId)) {
      if (!isRecord(policy)) continue;
      const operations = stringList(policy.operations);
      const resources = stringList(policy.resources);
      if (operations === undefined || resources === undefined || operations.length === 0) continue;
      policies.push({ policyId, destination, operations, resources });
    }
  }
  return policies;
}

export class Authorizer {
  private readonly policiesByPrincipal = new Map<string, readonly AccessPolicy[]>();

  setPolicies(principal: string, accessControl: unknown): void {
    this.policiesByPrincipal.set(principal, parseAccessControl(accessControl));
  }

  removePrincipal(principal: string): void {
    this.policiesByPrincipal.delete(principal);
  }

  isAllowed(destination: string, principal: string, operation: string, resource: string): boolean {
    const policies = this.policiesByPrincipal.get(principal) ?? [];
    return policies.some(
      (policy) =>
        policy.destination === destination &&
        (policy.operations.includes(operation) || policy.operations.includes('*')) &&
        policy.resources.some((allowed) => resourceMatches(allowed, resource)),
    );
  }

  /** Throws UnauthorizedError with the message AuthorizationHandler.isAuthorized builds on a device. */
  authorize(destination: string, principal: string, operation: string, resource: string): void {
    if (this.isAllowed(destination, principal, operation, resource)) return;
    throw new ModeledIpcError(
      'aws.greengrass#UnauthorizedError',
      `Principal ${principal} is not authorized to perform ${destination}:${operation} on resource ${resource}`,
    );
  }
}

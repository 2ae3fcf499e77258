/**
 * What every component's config section is built from: TypeBox objects that reject
 * unknown keys and default to `{}` (so a section left out of the file takes its
 * defaults), and the freeze applied once validation passed. No I/O here; `cmd/` reads
 * the file and composes the sections.
 */
import { Type, type TProperties } from '@sinclair/typebox';

/** A config section: unknown keys rejected, absent means all defaults. */
export function section<T extends TProperties>(properties: T, description: string) {
  return Type.Object(properties, { additionalProperties: false, default: {}, description });
}

/** An object inside a section that has no default of its own (one of a union's shapes, say). */
export function strictObject<T extends TProperties>(properties: T) {
  return Type.Object(properties, { additionalProperties: false });
}

/** The self-metrics endpoint of a daemon that has no tenant API of its own. */
export function telemetrySection(port: number) {
  return section(
    {
      enabled: Type.Boolean({ default: true }),
      host: Type.String({ default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: port }),
    },
    '/metrics (Prometheus text) and /healthz',
  );
}

/** Freezes a validated config tree so that no component can change what another reads. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

import { z } from 'zod';

/** An OpenTelemetry service.name, as a monitored system's spans carry it. */
export const ServiceNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/, 'must be a service.name (letters, digits, . _ / -)');

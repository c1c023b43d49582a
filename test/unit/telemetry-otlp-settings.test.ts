import { resolveOtlpSettings } from '../../src/telemetry/otlp-export.js';

describe('telemetry: OTLP export settings from OTEL_* variables', () => {
  it('when only the generic endpoint is set, then spans go to <endpoint>/v1/traces by http/protobuf', () => {
    expect(resolveOtlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      compression: 'none',
      timeoutMillis: 10_000,
    });
  });

  it('when signal-specific variables are set, then they win and the traces endpoint is used as given', () => {
    const settings = resolveOtlpSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/custom',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20a,x-team=core',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20b',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: 2500,
    });
    expect(settings).toEqual({
      url: 'http://traces:9999/custom',
      protocol: 'http/json',
      headers: { authorization: 'Bearer b', 'x-team': 'core' },
      compression: 'gzip',
      timeoutMillis: 2500,
    });
  });

  it('when no endpoint is set, the SDK is disabled or the traces exporter is none, then nothing is exported', () => {
    expect(resolveOtlpSettings({})).toBeNull();
    expect(resolveOtlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: true })).toBeNull();
    expect(resolveOtlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });

  it('when the protocol is grpc, then both endpoints are used as given (no /v1/traces path)', () => {
    expect(resolveOtlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toMatchObject({
      url: 'http://c:4317',
      protocol: 'grpc',
    });
    expect(
      resolveOtlpSettings({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces:4317', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }),
    ).toMatchObject({ url: 'https://traces:4317', protocol: 'grpc' });
  });

  it('when the protocol is unknown, then it says so and exports nothing', () => {
    const lines: string[] = [];
    expect(resolveOtlpSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'thrift' }, (line) => lines.push(line))).toBeNull();
    expect(lines).toEqual([expect.stringContaining('thrift is not supported')]);
  });
});

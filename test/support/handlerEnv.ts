import { freshDynamoStore } from './stores.ts';

/**
 * Points the handlers of this test file at new tables (and quiets Powertools), as a deployed
 * function's environment does; import the handlers after it, since they read it at load.
 */
export async function handlerEnvironment(
  prefix: string,
  extra: Record<string, string> = {},
): Promise<{ log: string; metadata: string }> {
  const { tables } = await freshDynamoStore(prefix);
  Object.assign(process.env, {
    SLUICE_LOG_TABLE: tables.log,
    SLUICE_METADATA_TABLE: tables.metadata,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    SLUICE_SAGAS: '[]',
    ...extra,
  });
  return tables;
}

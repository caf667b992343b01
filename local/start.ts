/**
 * `npm start`: the hermetic local stack. DynamoDB Local (127.0.0.1), the S3 emulator and the HTTP
 * API on http://127.0.0.1:7070, served by the same handlers the CDK stack deploys, with the web
 * console at http://127.0.0.1:7070/console/ (built first when missing or stale).
 *
 *   npm start                       # data kept under .sluice/ between runs
 *   npm start -- --in-memory        # throwaway
 *   npm start -- --port 8080        # another gateway port
 *   npm start -- --authorization acl --admin jwt:root --trust-principal-header
 *                                   # try ACLs: callers name themselves with x-sluice-principal
 *   npm start -- --dynamodb-all-interfaces   # without javac: let DynamoDB Local listen on every interface
 *   npm start -- --function billing=examples/billing.ts#handler --secret hook-key=local-only
 *                                   # subscription targets: a handler module served as Lambda function
 *                                   # "billing", a signing secret served as Secrets Manager secret "hook-key"
 *
 * Everything listens on 127.0.0.1 only, and the gateway refuses browser requests from other origins
 * and DNS-rebound names (local/admission.ts). Where DynamoDB Local cannot be bound to 127.0.0.1 (no
 * javac) it refuses to start unless --dynamodb-all-interfaces or SLUICE_DYNAMODB_ALL_INTERFACES=1.
 */
import { parseArgs } from 'node:util';
import { ensureConsoleBuilt } from './consoleBuild.ts';
import { JAVA_MISSING, LOOPBACK_UNAVAILABLE } from './dynamoDbLocal.ts';
import { startLocalStack } from './stack.ts';

const { values } = parseArgs({
  options: {
    'in-memory': { type: 'boolean', default: false },
    port: { type: 'string', default: process.env.SLUICE_PORT ?? '7070' },
    'data-dir': { type: 'string', default: '.sluice' },
    'tiering-interval': { type: 'string', default: '60000' },
    authorization: { type: 'string', default: 'open' },
    admin: { type: 'string', multiple: true, default: [] },
    'trust-principal-header': { type: 'boolean', default: false },
    'dynamodb-all-interfaces': { type: 'boolean', default: process.env.SLUICE_DYNAMODB_ALL_INTERFACES === '1' },
    function: { type: 'string', multiple: true, default: [] },
    secret: { type: 'string', multiple: true, default: [] },
  },
});

/** `name=value` pairs of a repeated flag. */
function pairs(flag: string, list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const at = item.indexOf('=');
    if (at <= 0) {
      console.error(`--${flag} takes name=value, not ${item}`);
      process.exit(2);
    }
    out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

if (values.authorization !== 'acl' && values.authorization !== 'open') {
  console.error(`--authorization must be acl or open, not ${values.authorization}`);
  process.exit(2);
}

// The web console, built when its build is missing or older than its sources; the API runs without it.
let consoleNote = '';
try {
  ensureConsoleBuilt();
} catch (e) {
  consoleNote = `  (not built: ${e instanceof Error ? e.message : String(e)})`;
}

let stack;
try {
  stack = await startLocalStack({
    port: Number(values.port),
    tieringIntervalMs: Number(values['tiering-interval']),
    authorization: values.authorization === 'acl' ? 'acl' : 'open',
    adminPrincipals: values.admin,
    trustPrincipalHeader: values['trust-principal-header'],
    dynamoAllInterfaces: values['dynamodb-all-interfaces'],
    watchers: true,
    functions: pairs('function', values.function),
    secrets: pairs('secret', values.secret),
    ...(values['in-memory'] ? {} : { dataDir: values['data-dir'] }),
  });
} catch (e) {
  const explained = [JAVA_MISSING, LOOPBACK_UNAVAILABLE].find((m) => e instanceof Error && e.message === m);
  console.error(explained ?? e);
  process.exit(1);
}

console.log(`Sluice is running at ${stack.url}
  DynamoDB Local  ${stack.dynamoEndpoint}${stack.dynamoLoopbackOnly ? '' : '  (warning: javac missing, so it listens on every interface, as --dynamodb-all-interfaces allowed)'}
  S3 emulator     ${stack.s3Endpoint} (bucket ${stack.bucket})
  Data            ${values['in-memory'] ? 'in memory, gone on exit' : `${values['data-dir']}/`}
  Tiering         every ${Number(values['tiering-interval']) / 1000} s (or now: curl -X POST ${stack.url}/v1/admin/tiering/run)
  WebSocket API   ${stack.watchUrl ?? 'off'} (consumers wait for doorbells there instead of long-polling)
  Authorization   ${values.authorization}${values.admin.length > 0 ? ` (admins: ${values.admin.join(', ')})` : ''}${values['trust-principal-header'] ? '; callers name themselves with the x-sluice-principal header' : ''}
  Sagas           ${[...(stack.sagas?.resources.stateMachines.values() ?? [])].map((m) => m.saga ?? m.name).join(', ') || 'none'} (state machines from the synthesized CDK app, run locally)
  Stream jobs     ${[...(stack.jobs?.jobs ?? new Map<string, { source: string }>())].map(([name, j]) => `${name} (reads ${j.source})`).join(', ') || 'none'} (StreamProcessors from the synthesized CDK app, run every 0.5 s)
  Web console     ${stack.url}/console/${consoleNote}

Try:
  curl -s -X POST ${stack.url}/v1/topics -H 'content-type: application/json' -d '{"name":"orders","partitions":3}'
  npx sluice --url ${stack.url} produce orders '{"key":"user-1","value":{"total":42}}'
  npx sluice --url ${stack.url} consume orders --from-beginning
  npx sluice --url ${stack.url} sagas list

Ctrl-C stops everything.`);

const shutdown = async (): Promise<void> => {
  await stack.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());

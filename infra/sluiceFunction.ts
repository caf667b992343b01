import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import {
  Architecture,
  CfnFunction,
  Runtime,
  Tracing,
  determineLatestNodeRuntime,
  type ILayerVersion,
} from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Template metadata naming a function's source, so the local stack can run the same code. */
export const ENTRY_METADATA = 'sluice:entry';

/**
 * esbuild settings of every deployed function (the CDK bundling below is made from these, and a
 * test bundles a handler with them). `keepNames` matters: error codes are class names, and a
 * minifier that renamed the classes would turn every typed error into a 500.
 */
export const BUNDLE_OPTIONS = {
  minify: true,
  keepNames: true,
  target: 'node22',
  mainFields: ['module', 'main'],
  // The SDK is in the runtime and Powertools in its layer: both stay out of the bundle.
  external: ['@aws-sdk/*', '@aws-lambda-powertools/*'],
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
} as const;

/** The same bundle as plain esbuild options, for tools that bundle a handler outside CDK (a test, the bench). */
export function esbuildOptions(entry: string, outfile: string) {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node' as const,
    format: 'esm' as const,
    minify: BUNDLE_OPTIONS.minify,
    keepNames: BUNDLE_OPTIONS.keepNames,
    target: BUNDLE_OPTIONS.target,
    mainFields: [...BUNDLE_OPTIONS.mainFields],
    external: [...BUNDLE_OPTIONS.external],
    banner: { js: BUNDLE_OPTIONS.banner },
    outfile,
    logLevel: 'error' as const,
  };
}

export interface SluiceFunctionProps {
  /** Source file, relative to the project root or absolute. */
  readonly entry: string;
  /** @default 'handler' */
  readonly handler?: string;
  readonly functionName?: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: Record<string, string>;
  readonly layers: readonly ILayerVersion[];
  readonly runtime?: Runtime;
  readonly logRetention?: RetentionDays;
  /** Encrypts the function's log group (the key must let CloudWatch Logs use it). @default - CloudWatch Logs' own encryption */
  readonly encryptionKey?: IKey;
}

/**
 * One Sluice Lambda function: Node.js 22 on arm64, ESM bundle with source maps, X-Ray, its own
 * log group, and its own role holding only the rights to write that log group (grants are added
 * by the caller). The SDK and Powertools stay out of the bundle (runtime and layer).
 */
export function sluiceFunction(scope: Construct, id: string, props: SluiceFunctionProps): NodejsFunction {
  const logGroup = new LogGroup(scope, `${id}Logs`, {
    logGroupName: props.functionName === undefined ? undefined : `/aws/lambda/${props.functionName}`,
    retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
    ...(props.encryptionKey === undefined ? {} : { encryptionKey: props.encryptionKey }),
  });
  const role = new Role(scope, `${id}Role`, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  role.addToPolicy(
    new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
  );
  const entry = isAbsolute(props.entry) ? props.entry : join(PROJECT_ROOT, props.entry);
  const fn = new NodejsFunction(scope, `${id}Function`, {
    functionName: props.functionName,
    description: props.description,
    entry,
    handler: props.handler ?? 'handler',
    runtime: props.runtime ?? Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    memorySize: 512,
    timeout: props.timeout,
    role,
    logGroup,
    tracing: Tracing.ACTIVE,
    layers: [...props.layers],
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
    environment: {
      POWERTOOLS_SERVICE_NAME: 'sluice',
      POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
      // Traces record no handler responses (off in code) and no errors: both may carry record data.
      POWERTOOLS_TRACER_CAPTURE_RESPONSE: 'false',
      POWERTOOLS_TRACER_CAPTURE_ERROR: 'false',
      NODE_OPTIONS: '--enable-source-maps',
      ...props.environment,
    },
    bundling: {
      minify: BUNDLE_OPTIONS.minify,
      keepNames: BUNDLE_OPTIONS.keepNames,
      sourceMap: true,
      target: BUNDLE_OPTIONS.target,
      format: OutputFormat.ESM,
      mainFields: [...BUNDLE_OPTIONS.mainFields],
      externalModules: [...BUNDLE_OPTIONS.external],
      banner: BUNDLE_OPTIONS.banner,
    },
  });
  (fn.node.defaultChild as CfnFunction).addMetadata(ENTRY_METADATA, {
    path: relative(PROJECT_ROOT, entry).split('\\').join('/'),
    export: props.handler ?? 'handler',
  });
  if (fn.runtime.name !== determineLatestNodeRuntime(scope).name) {
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions::AwsSolutions-L1',
      reason: 'Sluice targets the nodejs22.x runtime it is tested on; the runtime prop selects a newer one.',
    });
  }
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Active X-Ray tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.',
  });
  return fn;
}

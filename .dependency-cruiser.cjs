/**
 * The folder tree is the architecture: core ← functions ← infra, with local and client beside,
 * and the web console (console/) apart, over HTTP only.
 * `npm test` fails when an import breaks these rules.
 */
module.exports = {
  forbidden: [
    {
      name: 'core-stays-plain',
      comment: 'core/ is a plain library: no Lambda, middy, CDK, HTTP-layer or local-stack imports',
      severity: 'error',
      from: { path: '^core/' },
      to: {
        path: [
          '^functions/',
          '^infra/',
          '^local/',
          '^client/',
          'node_modules/(aws-lambda|@middy|aws-cdk-lib|constructs|@aws-lambda-powertools)',
        ],
      },
    },
    {
      name: 'functions-not-infra',
      comment: 'Lambda handlers never import the CDK app',
      severity: 'error',
      from: { path: '^functions/' },
      to: { path: ['^infra/', '^local/', '^client/', 'node_modules/(aws-cdk-lib|constructs)'] },
    },
    {
      name: 'client-is-standalone',
      comment: 'the client talks HTTP only; it must not pull in the engine or storage',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: ['^core/adapters/', '^functions/', '^infra/', '^local/'] },
    },
    {
      name: 'console-talks-http-only',
      comment:
        'the web console is a browser app over the HTTP API: nothing from the engine, handlers, CDK, local stack or client',
      severity: 'error',
      from: { path: '^console/' },
      to: { path: ['^core/', '^functions/', '^infra/', '^local/', '^client/', '^examples/'] },
    },
    {
      name: 'console-runs-in-the-browser',
      comment: 'console/src is bundled for the browser: no Node built-ins',
      severity: 'error',
      from: { path: '^console/src/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};

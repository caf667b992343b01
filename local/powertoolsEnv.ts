/**
 * Powertools settings for the local stack, applied when this module loads: the handlers' logger,
 * metrics and tracer read them when they are constructed, which happens as soon as the CDK app
 * (and through it a saga's step handler) is imported. Import this first.
 */
process.env.POWERTOOLS_TRACE_ENABLED = 'false'; // no X-Ray daemon here
process.env.POWERTOOLS_METRICS_DISABLED = 'true'; // EMF lines would flood the console
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
process.env.SLUICE_LOG_ERROR_DETAILS = 'true'; // a 500's log line carries its message and stack here

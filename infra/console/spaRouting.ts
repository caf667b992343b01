/**
 * The path the console is served under, on the local stack and behind CloudFront alike
 * (`/console/`, with its settings at `/console/config.json`).
 */
export const CONSOLE_PATH = '/console/';

/**
 * A CloudFront Function (runtime cloudfront-js-2.0) on the viewer requests of the console's
 * behaviours: `/` and `/console` redirect to `/console/`, and a console path without a file
 * extension (a page of the single-page app, e.g. `/console/topics/orders`) is served
 * `/console/index.html`, so that a page can be reloaded or linked to. Files (`/console/assets/…`,
 * `/console/config.json`) pass through unchanged. It runs on the console's behaviours only, so
 * the API's 403s and 404s under `/v1/` reach the caller untouched (a distribution-wide custom
 * error response would turn them into the console's page).
 * https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/functions-event-structure.html
 */
export const SPA_ROUTING_FUNCTION = `function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === '/' || uri === '/console') {
    return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '${CONSOLE_PATH}' } } };
  }
  if (uri.indexOf('${CONSOLE_PATH}') === 0) {
    var last = uri.substring(uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') === -1) request.uri = '${CONSOLE_PATH}index.html';
  }
  return request;
}
`;

import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrderTables } from '../../examples/order-saga/seed.ts';
import { fraudJob, generateTransactions } from '../../examples/streams/fraudDetection.ts';
import { FRAUD_DETECTOR, FRAUD_TOPICS } from '../../examples/streams/fraudDetectionSettings.ts';
import { dynamoClientFromEnv } from '../../local/awsEnv.ts';
import { ensureConsoleBuilt } from '../../local/consoleBuild.ts';
import type { LocalStack } from '../../local/stack.ts';
import { launchChromium, seriousAxeViolations } from '../support/browser.ts';
import { uniqueName } from '../support/names.ts';
import { orderTables, startOrderSagaStack } from '../support/orderSaga.ts';

/**
 * The web console in real headless Chromium against the local stack (with the order saga), as a
 * user drives it: create a topic, produce, browse and open a record, watch a group's lag fall,
 * reset its offsets, redrive a dead letter, follow a saga to completion, and the other pages;
 * axe-core on each page (no serious or critical violations) and a screenshot of each under
 * .sluice/console-screenshots/. SLUICE_UPDATE_SCREENSHOTS=1 also refreshes the README's in docs/console/.
 */
const SHOTS = join('.sluice', 'console-screenshots');
const README_SHOTS = new Set(['topics-all', 'record', 'group', 'saga-execution']);

// The console of the local stack, with the order saga and DynamoDB reached behind the API to seed
// it: against a deployed stack (SLUICE_API_URL) there is no local console to drive.
describe.skipIf(process.env.SLUICE_API_URL !== undefined)('web console in Chromium', () => {
  let stack: LocalStack;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let base: string;
  const problems: string[] = []; // script errors and CSP refusals seen in the page

  beforeAll(async () => {
    ensureConsoleBuilt(() => undefined);
    [{ stack }, browser] = await Promise.all([
      startOrderSagaStack('console', { retryIntervalMs: 0 }),
      launchChromium(),
    ]);
    base = `${stack.url}/console/`;
    page = browser.page;
    // Refresh every 300 ms instead of 2 s, so that live updates show within the test's patience.
    await page.addInitScript(() => sessionStorage.setItem('sluice.pollMs', '300'));
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(m.text());
    });
    mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  async function api(method: string, path: string, body?: unknown): Promise<any> {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  }

  async function open(route: string, heading: string | RegExp): Promise<void> {
    await page.goto(`${base}#${route}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  /** axe on the page as it is, then a screenshot. */
  async function check(name: string): Promise<void> {
    const violations = await seriousAxeViolations(page);
    expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
    const file = join(SHOTS, `${name}.png`);
    await page.screenshot({ path: file });
    if (process.env.SLUICE_UPDATE_SCREENSHOTS === '1' && README_SHOTS.has(name)) {
      mkdirSync(join('docs', 'console'), { recursive: true });
      copyFileSync(file, join('docs', 'console', `${name}.png`));
    }
  }

  const text = (selector: string) => page.locator(selector).innerText();

  it('is served on the API’s origin: the page, its assets with their types, config.json and client routes', async () => {
    const index = await fetch(base);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await index.text();
    const script = /src="\/console\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    const style = /href="\/console\/(assets\/[^"]+\.css)"/.exec(html)?.[1];
    expect(script, html).toBeDefined();
    expect((await fetch(`${base}${script}`)).headers.get('content-type')).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}${style}`)).headers.get('content-type')).toMatch(/^text\/css/);
    expect(await (await fetch(`${base}config.json`)).json()).toEqual({ apiUrl: '', auth: null });
    expect((await fetch(`${base}groups/anything`)).status, 'client routes fall back to index.html').toBe(200);
    expect((await fetch(`${base}assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${stack.url}/v1/topics`)).status, 'the API is still there').toBe(200);
  });

  it('is usable from the keyboard: a skip link first, then the sections', async () => {
    await open('/topics', 'Topics');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    expect(await page.getByRole('navigation', { name: 'Sections' }).getByRole('link').count()).toBe(10);
  });

  const topic = uniqueName('console-orders');

  it('creates a topic, produces, browses and opens a record', async () => {
    await open('/topics', 'Topics');
    await page.getByText('Create a topic').click();
    await page.getByLabel('Name').fill(topic);
    await page.getByLabel('Partitions').fill('2');
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Created topic ${topic}` })
      .waitFor();
    await page.getByRole('link', { name: topic }).waitFor();
    expect((await api('GET', `/v1/topics/${topic}`)).partitions).toHaveLength(2);
    // Creating it again is refused, and the API's error is what the user reads.
    await page.getByLabel('Name').fill(topic);
    await page.getByRole('button', { name: 'Create topic' }).click();
    await page.getByRole('alert').filter({ hasText: 'TopicAlreadyExists' }).waitFor();
    await check('topics');

    await page.getByRole('link', { name: topic }).click();
    await page.getByRole('heading', { level: 1, name: `Topic ${topic}` }).waitFor();
    const produce = page.getByRole('region', { name: 'Produce a record' });
    await produce.getByLabel('Key').fill('user-1');
    await produce.getByLabel('Partition').fill('1');
    await produce.getByLabel('Value').fill('{"orderId":"o-1","total":42}');
    await produce.getByLabel('Headers').fill('trace-id: abc-123');
    await produce.getByRole('button', { name: 'Produce' }).click();
    await page.getByRole('status').filter({ hasText: 'Produced to partition 1 at offset 0' }).waitFor();
    // A binary record, produced by another client, to see it as bytes.
    await api('POST', `/v1/topics/${topic}/records`, {
      records: [
        {
          key: 'user-2',
          value: Buffer.from([0xca, 0xfe, 0x00]).toString('base64'),
          valueEncoding: 'base64',
          partition: 1,
        },
      ],
    });
    await page.locator('[data-testid="hw-1"]').filter({ hasText: '2' }).waitFor(); // live: the page refreshed

    const messages = page.getByRole('region', { name: 'Messages' });
    await messages.getByLabel('Partition').selectOption('1');
    await messages.getByRole('button', { name: 'Browse' }).click();
    await page.getByRole('link', { name: 'Record at offset 1' }).waitFor();
    expect(await page.getByRole('region', { name: 'Records table' }).innerText()).toContain('base64:yv4A');
    await messages.getByLabel('Key contains').fill('user-1');
    expect(await page.getByRole('link', { name: /^Record at offset/ }).count(), 'the key filter').toBe(1);
    await check('topic');

    await page.getByRole('link', { name: 'Record at offset 0' }).click();
    await page.getByRole('heading', { level: 1, name: `Record ${topic}/1@0` }).waitFor();
    expect(await text('pre[aria-label="Value (json)"]')).toBe('{\n  "orderId": "o-1",\n  "total": 42\n}');
    expect(await page.getByRole('row', { name: /trace-id/ }).innerText()).toContain('abc-123');
    await check('record');
    await page.goBack(); // the browser's view is in its URL: back shows it again, filter included
    await page.getByRole('link', { name: 'Record at offset 0' }).waitFor();
    expect(new URL(page.url()).hash).toBe(`#/topics/${topic}?partition=1&from=earliest&n=50&key=user-1`);
    expect(await page.getByRole('link', { name: /^Record at offset/ }).count()).toBe(1);

    await page.goto(`${base}#/topics/${topic}/partitions/1/records/1`);
    await page.locator('pre[aria-label="Value as hex"]').waitFor();
    expect(await text('pre[aria-label="Value as hex"]')).toBe('000000  ca fe 00');
  });

  it('changes a topic’s configuration, adds partitions, and deletes it only after a confirmation', async () => {
    const scratch = uniqueName('console-scratch');
    await api('POST', '/v1/topics', { name: scratch, partitions: 1 });
    await open(`/topics/${scratch}`, `Topic ${scratch}`);
    const configure = page.getByRole('region', { name: 'Configuration' });
    await configure.getByLabel('Retention (ms, -1 forever)').fill('86400000');
    await configure.getByLabel('Storage').selectOption('s3');
    await configure.getByRole('button', { name: 'Save configuration' }).click();
    await configure.getByRole('status').filter({ hasText: 'Configuration saved' }).waitFor();
    await configure.getByLabel('Partitions').fill('3');
    await configure.getByRole('button', { name: 'Add partitions' }).click();
    await configure.getByRole('status').filter({ hasText: 'The topic has 3 partitions' }).waitFor();
    const described = await api('GET', `/v1/topics/${scratch}`);
    expect(described.config).toMatchObject({ retentionMs: 86_400_000, storage: 's3' });
    expect(described.partitions).toHaveLength(3);
    await page.getByText('Storage s3, retention 1 d').waitFor(); // the page shows it too

    await configure.getByRole('button', { name: 'Delete topic…' }).click();
    await configure.getByRole('button', { name: 'Cancel' }).click(); // asked, and nothing happened
    expect((await fetch(`${stack.url}/v1/topics/${scratch}`)).status).toBe(200);
    await configure.getByRole('button', { name: 'Delete topic…' }).click();
    await configure.getByRole('button', { name: `Delete ${scratch}` }).click();
    await page.getByRole('heading', { level: 1, name: 'Topics' }).waitFor();
    expect((await fetch(`${stack.url}/v1/topics/${scratch}`)).status).toBe(404);
  });

  it('shows a group’s lag falling as its consumer commits, and resets its offsets once it is empty', async () => {
    const group = uniqueName('console-group');
    await api('POST', `/v1/topics/${topic}/records`, {
      records: Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: { i }, partition: 0 })),
    });
    const joined = await api('POST', `/v1/groups/${group}/members`, { topics: [topic], autoOffsetReset: 'earliest' });
    const polled = await api('POST', `/v1/groups/${group}/members/${joined.memberId}/poll`, { maxRecords: 1 });
    expect(polled.assignments).toHaveLength(2);
    await open(`/groups/${group}`, `Group ${group}`);
    const lag = page.locator('[data-testid="total-lag"]');
    await lag.filter({ hasText: /^8$/ }).waitFor(); // 6 on partition 0, 2 on partition 1, nothing committed
    const seen = new Set<string>();
    const commit = (p0: number, p1: number) =>
      api('POST', `/v1/groups/${group}/offsets`, {
        memberId: joined.memberId,
        generation: polled.generation,
        offsets: [
          { topic, partition: 0, offset: p0 },
          { topic, partition: 1, offset: p1 },
        ],
      });
    for (const [p0, p1, expected] of [
      [2, 0, '6'],
      [4, 1, '3'],
      [6, 2, '0'],
    ] as const) {
      await commit(p0, p1);
      await lag.filter({ hasText: new RegExp(`^${expected}$`) }).waitFor();
      seen.add(expected);
    }
    expect([...seen]).toEqual(['6', '3', '0']);
    const chart = await page.locator('figure.chart figcaption').innerText();
    expect(chart).toMatch(/from 8 to 0 \(max 8\)/);
    expect(await page.getByRole('button', { name: 'Reset offsets' }).isDisabled(), 'not while it has a member').toBe(
      true,
    );
    await check('group');

    await api('DELETE', `/v1/groups/${group}/members/${joined.memberId}`);
    await page.locator('[data-testid="group-state"]').filter({ hasText: 'Empty' }).waitFor();
    const reset = page.getByRole('region', { name: 'Reset offsets' });
    await reset.getByLabel('To', { exact: true }).selectOption('offset');
    await reset.getByLabel('Offset').fill('1');
    await reset.getByRole('button', { name: 'Reset offsets' }).click();
    await page.getByRole('status').filter({ hasText: 'reset to offset 1' }).waitFor();
    await lag.filter({ hasText: /^6$/ }).waitFor(); // 5 on partition 0, 1 on partition 1
    const offsets = (await api('GET', `/v1/groups/${group}`)).offsets;
    expect(offsets.map((o: any) => o.committed)).toEqual([1, 1]);
    await reset.getByLabel('To', { exact: true }).selectOption('earliest');
    await reset.getByRole('button', { name: 'Reset offsets' }).click();
    await lag.filter({ hasText: /^8$/ }).waitFor();

    await open('/groups', 'Consumer groups');
    await page.getByRole('link', { name: group }).waitFor();
    await check('groups');
  });

  it('redrives a dead letter to its topic', async () => {
    const work = uniqueName('console-jobs');
    const dlq = `${work}.dlq`;
    await api('POST', '/v1/topics', { name: work, partitions: 1 });
    await api('POST', '/v1/topics', { name: dlq, partitions: 1 });
    await api('POST', `/v1/topics/${work}/records`, { records: [{ key: 'job-1', value: { send: 'mail' } }] });
    const share = uniqueName('console-workers');
    const member = await api('POST', `/v1/share-groups/${share}/members`, { topics: [work], deadLetterTopic: dlq });
    const got = await api('POST', `/v1/share-groups/${share}/members/${member.memberId}/poll`, { maxRecords: 1 });
    expect(got.records).toHaveLength(1);
    await api('POST', `/v1/share-groups/${share}/acks`, {
      memberId: member.memberId,
      acks: [{ topic: work, partition: 0, offset: 0, type: 'reject', errorMessage: 'malformed address' }],
    });

    await open('/dead-letters', 'Dead letters');
    await page.getByRole('link', { name: dlq }).waitFor();
    await check('dead-letter-topics');
    await page.getByRole('link', { name: dlq }).click();
    await page.getByRole('heading', { level: 1, name: `Dead letters in ${dlq}` }).waitFor();
    const letters = page.getByRole('region', { name: 'Dead letters table' });
    await letters.waitFor();
    expect(await letters.innerText()).toMatch(/rejected[\s\S]*malformed address/);
    await check('dead-letters');
    await page.getByRole('button', { name: 'Redrive' }).click();
    await page.getByRole('status').filter({ hasText: 'Redrove 1 dead letters; 0 remain' }).waitFor();
    const back = await api('GET', `/v1/topics/${work}/partitions/0/records?offset=1`);
    expect(back.records).toHaveLength(1);
    expect(back.records[0].value).toEqual({ send: 'mail' });
    expect(back.records[0].headers.redriven_from).toBeDefined();

    await open(`/share-groups/${share}`, `Share group ${share}`);
    await page.getByRole('link', { name: dlq }).waitFor();
    await check('share-group');
  });

  it('shows a subscription’s quarantined key and releases it', async () => {
    const source = uniqueName('console-payments');
    await api('POST', '/v1/topics', { name: source, partitions: 1 });
    let fixed = false;
    const delivered: string[] = [];
    stack.aws.defineFunction('console-payments', async (event) => {
      const failures: { itemIdentifier: string }[] = [];
      for (const r of (event as { records: { key: string; offset: number }[] }).records) {
        if (r.key === 'acct-9' && !fixed) failures.push({ itemIdentifier: String(r.offset) });
        else delivered.push(r.key);
      }
      return { batchItemFailures: failures };
    });
    const name = uniqueName('console-payments');
    await api('POST', '/v1/subscriptions', {
      name,
      topic: source,
      target: { type: 'lambda', functionName: 'console-payments' },
      startingPosition: 'earliest',
      ordering: 'key',
      maxRetries: 0,
      backoff: { initialMs: 10, multiplier: 1, maxMs: 10 },
    });
    await api('POST', `/v1/topics/${source}/records`, {
      records: [
        { key: 'acct-1', value: { n: 1 } },
        { key: 'acct-9', value: { n: 2 } },
      ],
    });
    await open('/subscriptions', 'Subscriptions');
    await page.getByRole('link', { name }).click();
    await page.getByRole('heading', { level: 1, name: `Subscription ${name}` }).waitFor();
    const quarantined = page.getByRole('region', { name: 'Quarantined keys' });
    await quarantined.getByRole('row', { name: /acct-9/ }).waitFor({ timeout: 20_000 });
    expect(delivered).toContain('acct-1');
    await check('subscription');
    fixed = true;
    await quarantined.getByRole('button', { name: 'Release acct-9' }).click();
    await page.getByRole('status').filter({ hasText: 'Released key acct-9: 1 records' }).waitFor();
    await page.getByText('No quarantined keys.').waitFor({ timeout: 20_000 });
    expect(delivered).toContain('acct-9');
  });

  it('starts a saga execution and follows it to completion, step by step', async () => {
    const order = uniqueName('o');
    const input = {
      orderId: order,
      customerId: `c-${order}`,
      sku: `sku-${order}`,
      quantity: 1,
      amount: 100,
      address: '1 Main St',
    };
    await seedOrderTables(dynamoClientFromEnv(), orderTables(stack), {
      sku: input.sku,
      stock: 5,
      customerId: input.customerId,
      balance: 1000,
    });
    await open('/sagas', 'Sagas');
    expect(await page.getByRole('row', { name: /order/ }).innerText()).toContain(
      'ReserveInventory → ChargePayment → ShipOrder',
    );
    await check('sagas');
    await page.getByRole('link', { name: 'order', exact: true }).click();
    await page.getByText('Start an execution').click();
    await page.getByLabel('Execution name').fill(order);
    await page.getByLabel('Input (JSON)').fill(JSON.stringify(input));
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: `Execution ${order}` }).waitFor();
    await page
      .locator('[data-testid="execution-status"]')
      .filter({ hasText: /^SUCCEEDED$/ })
      .waitFor({ timeout: 30_000 });
    const timeline = await page.getByRole('list', { name: 'Execution events' }).innerText();
    expect(timeline).toMatch(
      /Started[\s\S]*Step succeeded: ReserveInventory[\s\S]*Step succeeded: ChargePayment[\s\S]*Step succeeded: ShipOrder[\s\S]*Completed/,
    );
    await check('saga-execution');

    await open(`/sagas/order?status=SUCCEEDED`, 'Saga order');
    await page.getByRole('link', { name: order }).waitFor();
    await check('saga-executions');
    await page.getByLabel('Status').selectOption('ABORTED');
    await page.getByText('No executions with status ABORTED').waitFor();
  });

  it('shows the other pages, and says so when the API lacks a route', async () => {
    const queue = uniqueName('console-emails');
    await api('POST', '/v1/queues', { name: queue, deliveryLimit: 3 });
    await api('POST', `/v1/topics/${queue}/records`, { records: [{ value: { to: 'ada' } }, { value: { to: 'bob' } }] });
    const exchange = uniqueName('console-orders-x');
    await api('PUT', `/v1/exchanges/${exchange}`, { type: 'direct' });
    await api('POST', `/v1/exchanges/${exchange}/bindings`, { destination: { topic: queue }, bindingKey: 'email' });
    // The example stream job (fraud detection) runs once its source has records.
    for (const t of FRAUD_TOPICS) await api('POST', '/v1/topics', t);
    const transactions = generateTransactions({ seed: 3 }).slice(0, 40);
    await api('POST', `/v1/topics/${fraudJob.source}/records`, {
      records: transactions.map((t) => ({ key: t.key, value: t.value })),
    });
    for (const [route, heading, name] of [
      ['/queues', 'Queues and share groups', 'queues'],
      ['/exchanges', 'Exchanges', 'exchanges'],
      ['/subscriptions', 'Subscriptions', 'subscriptions'],
      ['/jobs', 'Stream jobs', 'jobs'],
    ] as const) {
      await open(route, heading);
      await page.locator('[aria-busy="true"]').first().waitFor({ state: 'detached' }); // loaded
      expect(await page.getByRole('alert').count(), `${route} shows no error`).toBe(0);
      await check(name);
    }
    await open('/queues', 'Queues and share groups');
    const queueRow = page.getByRole('row', { name: new RegExp(queue) });
    await queueRow.waitFor();
    // Messages, ready, unacknowledged, archived, consumers, dead letters to:
    expect((await queueRow.getByRole('cell').allInnerTexts()).map((t) => t.trim())).toEqual([
      '2',
      '2',
      '0',
      '0',
      '0',
      '—',
    ]);
    await open(`/exchanges/${exchange}`, `Exchange ${exchange}`);
    expect(await page.getByRole('region', { name: 'Bindings table' }).innerText()).toMatch(
      new RegExp(`topic ${queue}\\s+email`),
    );
    await check('exchange');
    await open('/jobs', 'Stream jobs');
    await page.getByRole('link', { name: FRAUD_DETECTOR.name }).click();
    await page.getByRole('heading', { level: 1, name: `Stream job ${FRAUD_DETECTOR.name}` }).waitFor();
    const partitions = page.getByRole('region', { name: 'Job partitions' });
    await partitions.waitFor();
    expect(await partitions.getByRole('row').count(), 'a header and its source’s four partitions').toBe(5);
    await check('job');

    // An API without exchanges (API Gateway answers a missing route with a bare 404).
    await page.route('**/v1/exchanges', (route) => route.fulfill({ status: 404, body: '{"message":"Not Found"}' }));
    await open('/exchanges', 'Exchanges');
    await page.getByText('Exchanges is not available on this API').waitFor();
    await page.unroute('**/v1/exchanges');
  });

  it('looks up a transactional producer and an event stream by id', async () => {
    const producer = uniqueName('console-tx');
    await api('POST', `/v1/transactions/${producer}/init`, {});
    await open('/transactions', 'Transactions');
    await page.getByLabel('Transactional id').fill(producer);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('heading', { level: 1, name: `Transactional producer ${producer}` }).waitFor();
    await page.locator('[data-testid="transaction-state"]').filter({ hasText: 'ready' }).waitFor();
    await check('transactions');

    const stream = uniqueName('account');
    await api('POST', `/v1/streams/${stream}/events`, {
      events: [
        { type: 'Opened', data: { owner: 'ada' } },
        { type: 'Deposited', data: { amount: 30 } },
      ],
      expectedVersion: 'noStream',
    });
    await open(`/streams/${stream}`, `Event stream ${stream}`);
    await page.locator('[data-testid="stream-version"]').filter({ hasText: /^1$/ }).waitFor();
    const events = await page.getByRole('region', { name: 'Events table' }).innerText();
    expect(events).toMatch(/Opened[\s\S]*"owner":"ada"[\s\S]*Deposited[\s\S]*"amount":30/);
    await check('stream');
  });

  it('fits a phone screen', async () => {
    await open('/topics', 'Topics');
    await page.getByRole('link', { name: 'transactions', exact: true }).waitFor(); // every topic the tests made
    await page.locator('[data-described="true"]').waitFor(); // and each one's figures
    await check('topics-all');
    await page.setViewportSize({ width: 390, height: 844 });
    await open('/topics', 'Topics');
    await page.getByRole('link', { name: topic }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow, 'no sideways scrolling of the page (wide tables scroll in their own box)').toBeLessThanOrEqual(0);
    await check('topics-phone');
    expect(problems).toEqual([]);
  });
});

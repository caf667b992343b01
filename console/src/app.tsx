import type { ComponentChildren } from 'preact';
import type { ConsoleConfig } from './config.ts';
import { signOut } from './auth/session.ts';
import { DeadLetterDetailPage, DeadLettersPage } from './pages/DeadLetters.tsx';
import { ExchangeDetailPage, ExchangesPage } from './pages/Exchanges.tsx';
import { GroupDetailPage, GroupsPage } from './pages/Groups.tsx';
import { JobDetailPage, JobsPage } from './pages/Jobs.tsx';
import { StreamsPage, TransactionsPage } from './pages/Lookups.tsx';
import { QueuesPage, ShareGroupPage } from './pages/Queues.tsx';
import { RecordDetailPage } from './pages/RecordDetail.tsx';
import { SagaExecutionPage, SagaExecutionsPage, SagasPage } from './pages/Sagas.tsx';
import { SubscriptionDetailPage, SubscriptionsPage } from './pages/Subscriptions.tsx';
import { TopicDetailPage } from './pages/TopicDetail.tsx';
import { TopicsPage } from './pages/Topics.tsx';
import { match, useLocation, type Location } from './router.ts';

/** The sections of the navigation, each the first segment of its pages' routes. */
const SECTIONS: [string, string][] = [
  ['topics', 'Topics'],
  ['groups', 'Consumer groups'],
  ['queues', 'Queues'],
  ['exchanges', 'Exchanges'],
  ['subscriptions', 'Subscriptions'],
  ['dead-letters', 'Dead letters'],
  ['jobs', 'Stream jobs'],
  ['sagas', 'Sagas'],
  ['transactions', 'Transactions'],
  ['streams', 'Event streams'],
];

type Route = [string, (params: Record<string, string>, location: Location) => ComponentChildren];

const ROUTES: Route[] = [
  ['/topics', () => <TopicsPage />],
  ['/topics/:topic', (p, l) => <TopicDetailPage topic={p.topic!} query={l.query} />],
  [
    '/topics/:topic/partitions/:partition/records/:offset',
    (p) => <RecordDetailPage topic={p.topic!} partition={Number(p.partition)} offset={Number(p.offset)} />,
  ],
  ['/groups', () => <GroupsPage />],
  ['/groups/:group', (p) => <GroupDetailPage group={p.group!} />],
  ['/queues', () => <QueuesPage />],
  ['/share-groups/:group', (p) => <ShareGroupPage group={p.group!} />],
  ['/exchanges', () => <ExchangesPage />],
  ['/exchanges/:exchange', (p) => <ExchangeDetailPage exchange={p.exchange!} />],
  ['/subscriptions', () => <SubscriptionsPage />],
  ['/subscriptions/:subscription', (p) => <SubscriptionDetailPage subscription={p.subscription!} />],
  ['/dead-letters', () => <DeadLettersPage />],
  ['/dead-letters/:topic', (p) => <DeadLetterDetailPage topic={p.topic!} />],
  ['/jobs', () => <JobsPage />],
  ['/jobs/:job', (p) => <JobDetailPage job={p.job!} />],
  ['/sagas', () => <SagasPage />],
  ['/sagas/:saga', (p, l) => <SagaExecutionsPage saga={p.saga!} status={l.query.get('status') ?? ''} />],
  ['/transactions', () => <TransactionsPage />],
  ['/transactions/:id', (p) => <TransactionsPage transactionalId={p.id} />],
  ['/streams', () => <StreamsPage />],
  ['/streams/:id', (p) => <StreamsPage streamId={p.id} />],
  ['/sagas/:saga/executions/:executionId', (p) => <SagaExecutionPage saga={p.saga!} executionId={p.executionId!} />],
];

export function App(props: { config: ConsoleConfig; signedIn: boolean }) {
  const location = useLocation();
  const section = location.path.split('/')[1] ?? 'topics';
  const current = section === 'share-groups' ? 'queues' : section;
  let page: ComponentChildren = <NotFound path={location.path} />;
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, location.path);
    if (params !== undefined) {
      page = render(params, location);
      break;
    }
  }
  const auth = props.config.auth;
  return (
    <>
      <a class="skip-link" href="#main" onClick={skipToMain}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/topics">
          Sluice
        </a>
        <nav aria-label="Sections">
          <ul>
            {SECTIONS.map(([id, label]) => (
              <li key={id}>
                <a href={`#/${id}`} aria-current={current === id ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {auth !== null && props.signedIn ? (
          <button type="button" class="sign-out" onClick={() => signOut(auth)}>
            Sign out
          </button>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

/** Moves focus to the main landmark without changing the hash route. */
function skipToMain(e: MouseEvent): void {
  e.preventDefault();
  document.getElementById('main')?.focus();
}

function NotFound(props: { path: string }) {
  return (
    <section aria-labelledby="page-title">
      <h1 id="page-title">Page not found</h1>
      <p>
        Nothing at <code>{props.path}</code>. <a href="#/topics">Go to the topics</a>.
      </p>
    </section>
  );
}

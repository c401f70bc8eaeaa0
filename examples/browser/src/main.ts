import './style.css';
import { TokenBucket } from '@sluice/rate-limit';
import { SETTINGS, type ExampleApi } from './api.js';
import { createBackend, type SearchAnswer } from './backend.js';
import { STORY, tokenize } from './model.js';
import { streamTokens, type StreamStats } from './token-stream.js';
import { Typeahead } from './typeahead.js';

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`index.html has no #${id}`);
  return found as T;
}

const format = (n: number): string => Math.round(n).toLocaleString('en-US');

// ─── 1. Throttled typeahead ──────────────────────────────────────────────────────────────────────

const backend = createBackend();
const query = element<HTMLInputElement>('query');
const matchesList = element<HTMLUListElement>('matches');
const answerTitle = element('answer-title');
const requestLog = element<HTMLOListElement>('request-log');
const LOG_LINES = 6;

const typeahead = new Typeahead(new TokenBucket(SETTINGS.typeahead), (q) => backend.search(q), {
  sent(seq, q) {
    const line = item('', 'waiting');
    line.dataset.seq = String(seq);
    line.append(
      Object.assign(document.createElement('span'), { className: 'seq', textContent: `#${seq}` }),
      Object.assign(document.createElement('q'), { textContent: q }),
      Object.assign(document.createElement('span'), { className: 'outcome', textContent: 'waiting…' }),
    );
    requestLog.prepend(line);
    while (requestLog.children.length > LOG_LINES) requestLog.lastElementChild?.remove();
    showTypeaheadStats();
  },
  answered(seq, answer, shown) {
    const line = requestLog.querySelector<HTMLElement>(`li[data-seq="${seq}"]`);
    if (line !== null) {
      line.className = shown ? 'shown' : 'stale';
      (line.querySelector('.outcome') as HTMLElement).textContent = shown
        ? `${answer.total} ${answer.total === 1 ? 'match' : 'matches'} · ${answer.latencyMs} ms`
        : `came back late (${answer.latencyMs} ms), ignored`;
    }
    if (shown) showAnswer(answer);
    showTypeaheadStats();
  },
});

function item(text: string, className = ''): HTMLLIElement {
  const li = document.createElement('li');
  li.textContent = text;
  if (className !== '') li.className = className;
  return li;
}

function showAnswer(answer: SearchAnswer): void {
  const typed = answer.query.trim() !== '';
  answerTitle.textContent = typed ? `Answer for “${answer.query}”` : 'Type to search';
  const items = answer.matches.map((name) => item(name));
  if (answer.total > answer.matches.length) items.push(item(`and ${answer.total - answer.matches.length} more`, 'more'));
  if (typed && answer.total === 0) items.push(item('no river by that name', 'more'));
  matchesList.replaceChildren(...items);
}

function showTypeaheadStats(): void {
  const { keystrokes, sent, merged, stale } = typeahead.stats;
  element('keystrokes').textContent = format(keystrokes);
  element('sent').textContent = format(sent);
  element('merged').textContent = format(merged);
  element('stale').textContent = format(stale);
}

query.addEventListener('input', () => {
  typeahead.type(query.value);
  showTypeaheadStats();
});

// ─── 2. A token stream at the screen's pace ──────────────────────────────────────────────────────

const tokens = tokenize(STORY);
const output = element('output');
const startButton = element<HTMLButtonElement>('start');
const pingButton = element<HTMLButtonElement>('ping');
const progress = element('progress');
let run: { stats: StreamStats; done: Promise<void> } | undefined;
let running = false;
const pingDelaysMs: number[] = [];
let pingsWhileStreaming = 0;
let maxStallMs = 0;

function showStreamStats(stats: StreamStats): void {
  const seconds = ((stats.finishedAt ?? performance.now()) - stats.startedAt) / 1_000;
  element('produced').textContent = format(stats.produced);
  element('rendered').textContent = format(stats.rendered);
  element('lead').textContent = `${format(stats.produced - stats.rendered)} / ${format(stats.maxLead)}`;
  element('pace').textContent = seconds > 0.2 ? format(stats.rendered / seconds) : '–';
  progress.style.width = `${(100 * stats.rendered) / stats.total}%`;
}

startButton.addEventListener('click', () => {
  if (running) return;
  running = true;
  maxStallMs = 0;
  startButton.disabled = true;
  startButton.textContent = 'Streaming…';
  output.textContent = '';
  const text = output.appendChild(document.createTextNode(''));
  // how late a 16 ms interval fires: a main-thread stall shows up here
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxStallMs = Math.max(maxStallMs, now - last - 16);
    last = now;
  }, 16);
  run = streamTokens(tokens, {
    ...SETTINGS.stream,
    render(chunk, stats) {
      text.appendData(chunk);
      output.scrollTop = output.scrollHeight;
      showStreamStats(stats);
    },
  });
  const { stats, done } = run;
  done
    .catch((error: unknown) => {
      output.append(`\n[stream failed: ${String(error)}]`);
    })
    .finally(() => {
      clearInterval(probe);
      running = false;
      showStreamStats(stats);
      element('stall').textContent = `${format(maxStallMs)} ms`;
      startButton.disabled = false;
      startButton.textContent = 'Run it again';
    });
});

pingButton.addEventListener('click', (event) => {
  const delay = Math.max(0, performance.now() - event.timeStamp);
  pingDelaysMs.push(delay);
  if (running) pingsWhileStreaming++;
  element('ping-result').textContent =
    `${pingDelaysMs.length} ${pingDelaysMs.length === 1 ? 'click' : 'clicks'}, last answered in ${delay.toFixed(1)} ms`;
});

// ─── for the test and the devtools console ───────────────────────────────────────────────────────

const api: ExampleApi = {
  typeahead: () => ({
    stats: { ...typeahead.stats },
    sentAt: [...typeahead.sentAt],
    firstKeystrokeAt: typeahead.firstKeystrokeAt,
    pending: typeahead.pending,
    inFlight: backend.inFlight,
    shownQuery: typeahead.shownQuery,
    shownMatches: Array.from(matchesList.querySelectorAll('li:not(.more)'), (li) => li.textContent ?? ''),
  }),
  stream: () => ({
    stats: run === undefined ? undefined : { ...run.stats },
    running,
    text: output.textContent ?? '',
    pingDelaysMs: [...pingDelaysMs],
    pingsWhileStreaming,
    maxStallMs,
  }),
};
(window as unknown as { sluiceExample: ExampleApi }).sluiceExample = api;

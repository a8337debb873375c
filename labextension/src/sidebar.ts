/**
 * The "SQLFlow" side panel: the transforms of the active notebook's kernel, with mode,
 * watermark, lag and last run, and the run history of the one clicked.
 *
 * No polling: the panel asks the kernel after a cell mentioning sqlflow finishes, when the
 * active notebook or its kernel changes, and when it is shown after being hidden. Between
 * answers a local clock only ages the "lag" and "ago" texts.
 */

import { ISessionContext } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, Notebook, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Kernel } from '@jupyterlab/services';
import { closeIcon, LabIcon, refreshIcon } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import {
  agoText,
  countText,
  durationText,
  parseUtc,
  shortUtcText,
  utcText,
  windowText
} from './format';
import { fetchSnapshot, IRun, ISnapshot, ITransform, SnapshotUnavailable } from './snapshot';

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161">
<path d="M11 2C6.6 2 3 3.3 3 5v3c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.6 0 6 1 6 1s-2.4 1-6 1-6-1-6-1 2.4-1 6-1z"/>
<path d="M3 10.2V13c0 1.6 3.1 2.8 7 3v-2.1c-3.4-.2-6-1.1-7-2.7zM3 15.2V18c0 1.6 3.1 2.8 7 3v-2.1c-3.4-.2-6-1.1-7-2.7z"/>
<path d="M15 12.5h4.2l-1.6-1.6 1.4-1.4 4 4-4 4-1.4-1.4 1.6-1.6H15zM12 17.5h7v2h-7z"/>
</g></svg>`;

export const sqlflowIcon = new LabIcon({ name: 'sqlflow-magic:icon', svgstr: SVG });

/** Source text that may change sqlflow state: `%%sqlflow`, `%sqlflow`, `%load_ext sqlflow_magic`. */
const MENTIONS_SQLFLOW = /sqlflow/;
const DEBOUNCE_MS = 300;
const CLOCK_MS = 30_000;

type Selection = { target: string; database: string };

/** A tiny DOM builder: h('div', {class: 'x'}, 'text', child). */
function h(
  tag: string,
  attrs: Record<string, string | undefined> = {},
  ...children: (Node | string | null | undefined | false)[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined) el.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined && c !== false) el.append(c);
  }
  return el;
}

/** `main.t` is just `t` to the user (main is the default schema); other schemas stay. */
function displayName(target: string | null, database: string | null = null): string {
  const bare = (target ?? '').replace(/^main\./i, '');
  return database ? `${database}.${bare}` : bare;
}

const STATUS_ICON: Record<string, string> = { success: '✓', failed: '✗', reset: '↺' };

function modeClass(mode: string | null): string {
  return `jp-SqlflowMode jp-SqlflowMode-${(mode ?? 'unknown').toLowerCase()}`;
}

export class SqlflowPanel extends Widget {
  constructor(private readonly tracker: INotebookTracker) {
    super();
    this.id = 'sqlflow-sidebar';
    this.addClass('jp-SqlflowPanel');
    this.title.icon = sqlflowIcon;
    this.title.caption = 'SQLFlow';

    this.refreshButton = h('button', {
      class: 'jp-SqlflowPanel-refresh jp-Button jp-mod-minimal',
      title: 'Refresh from the kernel',
      'aria-label': 'Refresh'
    }) as HTMLButtonElement;
    refreshIcon.element({ container: this.refreshButton, tag: 'span' });
    this.refreshButton.addEventListener('click', () => this.refresh());
    this.contextLine = h('div', { class: 'jp-SqlflowPanel-context' });
    this.body = h('div', { class: 'jp-SqlflowPanel-body' });
    this.node.append(
      h(
        'header',
        { class: 'jp-SqlflowPanel-header' },
        h('h2', { class: 'jp-SqlflowPanel-title' }, 'SQLFlow'),
        this.refreshButton
      ),
      this.contextLine,
      this.body
    );

    tracker.currentChanged.connect(this.onNotebookChanged, this);
    NotebookActions.executed.connect(this.onExecuted, this);
    this.onNotebookChanged();
  }

  dispose(): void {
    if (this.isDisposed) return;
    NotebookActions.executed.disconnect(this.onExecuted, this);
    this.tracker.currentChanged.disconnect(this.onNotebookChanged, this);
    this.bindSession(null);
    window.clearTimeout(this.debounce);
    window.clearInterval(this.clock);
    super.dispose();
  }

  /**
   * Ask the active notebook's kernel now, or as soon as the question already in flight
   * to that kernel is answered. A busy kernel answers after its running cells; other
   * notebooks' kernels are never held up by it.
   */
  refresh(): void {
    window.clearTimeout(this.debounce);
    if (!this.isVisible) {
      this.stale = true;
      return;
    }
    this.stale = false;
    const panel = this.notebook;
    const context = panel?.sessionContext;
    const kernel = context?.session?.kernel;
    if (!panel || !context || !kernel || !context.isReady) {
      // kernelChanged / statusChanged call again once there is a kernel to ask.
      this.snapshot = null;
      this.status = panel
        ? { kind: 'loading', text: 'Waiting for the kernel…' }
        : { kind: 'empty', text: 'Open a notebook to see its transforms.' };
      this.render();
      return;
    }
    if (this.inflight.has(kernel.id)) {
      this.again.add(kernel.id);
      return;
    }
    this.refreshButton.classList.add('jp-mod-running');
    const done = this.load(panel, kernel).finally(() => {
      this.inflight.delete(kernel.id);
      this.refreshButton.classList.toggle('jp-mod-running', this.inflight.size > 0);
      if (this.again.delete(kernel.id) && this.notebook === panel) {
        this.refresh();
      }
    });
    this.inflight.set(kernel.id, done);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    if (this.stale) this.refresh();
    window.clearInterval(this.clock);
    this.clock = window.setInterval(() => this.render(), CLOCK_MS);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    window.clearInterval(this.clock);
  }

  private scheduleRefresh(): void {
    window.clearTimeout(this.debounce);
    this.stale = true;
    this.debounce = window.setTimeout(() => this.refresh(), DEBOUNCE_MS);
  }

  private onNotebookChanged(): void {
    const panel = this.tracker.currentWidget;
    if (panel === this.notebook) return;
    this.notebook = panel;
    this.selection = null;
    this.snapshot = null;
    this.status = { kind: 'loading', text: 'Connecting to the kernel…' };
    this.bindSession(panel?.sessionContext ?? null);
    this.render();
    this.scheduleRefresh();
  }

  private bindSession(context: ISessionContext | null): void {
    if (this.session) {
      this.session.kernelChanged.disconnect(this.onKernelChanged, this);
      this.session.statusChanged.disconnect(this.onKernelStatus, this);
    }
    this.session = context;
    if (context) {
      context.kernelChanged.connect(this.onKernelChanged, this);
      context.statusChanged.connect(this.onKernelStatus, this);
      if (!context.isReady) {
        context.ready
          .then(() => {
            if (this.session === context) this.scheduleRefresh();
          })
          .catch(() => undefined); // a session that never starts: the status bar says why
      }
    }
  }

  private onKernelChanged(): void {
    this.snapshot = null;
    this.scheduleRefresh();
  }

  private onKernelStatus(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this.restarted = true;
    } else if (status === 'idle' && this.restarted) {
      // A restart forgets %load_ext and an in-memory database.
      this.restarted = false;
      this.snapshot = null;
      this.scheduleRefresh();
    }
  }

  private onExecuted(_: unknown, args: { notebook: Notebook; cell: Cell }): void {
    if (args.notebook !== this.notebook?.content) return;
    if (MENTIONS_SQLFLOW.test(args.cell.model.sharedModel.getSource())) {
      this.scheduleRefresh();
    }
  }

  private async load(panel: NotebookPanel, kernel: Kernel.IKernelConnection): Promise<void> {
    try {
      const info = await kernel.info;
      if (info.language_info.name !== 'python') {
        if (panel !== this.notebook) return;
        this.snapshot = null;
        this.status = { kind: 'empty', text: 'SQLFlow needs a Python kernel.' };
        return;
      }
      const selection = this.selection;
      const snapshot = await fetchSnapshot(kernel, selection?.target ?? null);
      if (panel !== this.notebook) return; // the user moved on meanwhile
      const kernelNow = parseUtc(snapshot.now);
      this.clockOffset = kernelNow ? kernelNow.getTime() - Date.now() : 0;
      this.snapshot = snapshot;
      if (
        this.selection &&
        !snapshot.transforms.some(t => this.sameTarget(t, this.selection!))
      ) {
        this.selection = null;
      }
      this.historyFor = selection;
      this.updatedAt = new Date();
      this.status = snapshot.error
        ? { kind: 'error', text: `Could not read the state tables: ${snapshot.error}` }
        : null;
    } catch (err) {
      if (panel !== this.notebook) return;
      this.snapshot = null;
      if (err instanceof SnapshotUnavailable && err.reason === 'not-loaded') {
        this.status = { kind: 'not-loaded', text: err.message };
      } else {
        this.status = { kind: 'error', text: (err as Error).message ?? String(err) };
      }
    } finally {
      if (panel === this.notebook) this.render();
    }
  }

  private sameTarget(t: ITransform | IRun, s: Selection): boolean {
    return (t.target ?? '').toLowerCase() === s.target.toLowerCase() && t.database === s.database;
  }

  private select(t: ITransform): void {
    const s = { target: t.target, database: t.database };
    this.selection = this.selection && this.sameTarget(t, this.selection) ? null : s;
    this.render();
    this.refresh();
  }

  private now(): Date {
    return new Date(Date.now() + this.clockOffset);
  }

  // ---- rendering ----------------------------------------------------------------------

  private render(): void {
    this.renderContext();
    const body = this.body;
    const scroll = body.scrollTop;
    body.replaceChildren();
    const snap = this.snapshot;
    if (!snap) {
      body.append(this.renderStatus());
      return;
    }
    if (this.status) body.append(this.renderStatus());
    body.append(this.renderTransforms(snap), this.renderHistory(snap));
    body.scrollTop = scroll;
  }

  private renderContext(): void {
    const parts: string[] = [];
    const panel = this.notebook;
    if (panel) parts.push(panel.context.path.split('/').pop() ?? panel.context.path);
    const snap = this.snapshot;
    if (snap?.database) {
      const path = snap.path ? snap.path.split(/[\\/]/).pop()! : null;
      parts.push(path ?? snap.database);
    }
    this.refreshButton.title =
      this.updatedAt && snap
        ? `Refresh from the kernel (last: ${this.updatedAt.toLocaleTimeString([], { hour12: false })})`
        : 'Refresh from the kernel';
    this.contextLine.textContent = parts.join(' · ');
    this.contextLine.title = snap?.path ? `Database: ${snap.path}` : '';
    this.refreshButton.disabled = !panel;
  }

  private renderStatus(): HTMLElement {
    const status = this.status ?? { kind: 'loading', text: 'Loading…' };
    const box = h(
      'div',
      { class: `jp-SqlflowPanel-message jp-mod-${status.kind}`, role: 'status' },
      h('p', {}, status.text)
    );
    if (status.kind === 'not-loaded') {
      box.append(
        h('p', {}, 'Run this in the notebook, then a ', h('code', {}, '%%sqlflow'), ' cell:'),
        h('pre', {}, '%load_ext sqlflow_magic')
      );
    }
    return box;
  }

  private renderTransforms(snap: ISnapshot): HTMLElement {
    const section = h(
      'section',
      { class: 'jp-SqlflowPanel-section', 'aria-label': 'Transforms' },
      h(
        'h3',
        { class: 'jp-SqlflowPanel-sectionTitle' },
        'Transforms',
        h('span', { class: 'jp-SqlflowPanel-count' }, String(snap.transforms.length))
      )
    );
    if (!snap.transforms.length) {
      section.append(
        h(
          'p',
          { class: 'jp-SqlflowPanel-hint' },
          'No transforms yet. A cell like ',
          h('code', {}, 'CREATE TABLE t MODE REPLACE AS SELECT …'),
          ' creates one.'
        )
      );
      return section;
    }
    const multiDb = snap.databases.length > 1;
    const list = h('ul', { class: 'jp-SqlflowPanel-transforms', role: 'listbox' });
    for (const t of snap.transforms) {
      list.append(this.renderTransform(t, multiDb));
    }
    section.append(list);
    return section;
  }

  private renderTransform(t: ITransform, multiDb: boolean): HTMLElement {
    const now = this.now();
    const selected = !!this.selection && this.sameTarget(t, this.selection);
    const last = t.last_run;
    const status = last?.status ?? 'none';
    const name = displayName(t.target, multiDb ? t.database : null);

    const details: string[] = [];
    if (t.time_column) details.push(`by ${t.time_column}`);
    if (t.lookback) details.push(`lookback ${t.lookback}`);
    if (t.keys.length) details.push(`key ${t.keys.join(', ')}`);

    const rows: (HTMLElement | null)[] = [];
    if (t.watermark || t.time_column) {
      const lag =
        t.watermark && parseUtc(t.watermark)
          ? (now.getTime() - parseUtc(t.watermark)!.getTime()) / 1000
          : t.lag_s;
      rows.push(
        this.field(
          'Watermark',
          t.watermark ? `${utcText(t.watermark)} UTC` : 'none: the next run is a full one',
          'jp-SqlflowTransform-watermark'
        ),
        t.watermark ? this.field('Lag', durationText(lag), 'jp-SqlflowTransform-lag') : null
      );
    }
    if (last) {
      rows.push(
        this.field(
          'Last run',
          `${status === 'success' ? 'ok' : status} · ${agoText(last.started_at, now)}` +
            ` · ${durationText(last.duration_s)}`,
          'jp-SqlflowTransform-lastRun',
          `started ${utcText(last.started_at)} UTC`
        )
      );
      if (status === 'success') {
        rows.push(this.field('Rows', this.countsText(last), 'jp-SqlflowTransform-rows'));
      }
    } else {
      rows.push(this.field('Last run', 'never', 'jp-SqlflowTransform-lastRun'));
    }

    const item = h(
      'li',
      {
        class: `jp-SqlflowTransform${selected ? ' jp-mod-selected' : ''}`,
        role: 'option',
        tabindex: '0',
        'aria-selected': String(selected),
        'data-target': t.target,
        'data-status': status,
        title: `${name}: click for its run history`
      },
      h(
        'div',
        { class: 'jp-SqlflowTransform-head' },
        h('span', {
          class: 'jp-SqlflowStatusDot',
          'data-status': status,
          title: last ? `last run: ${status}` : 'never run'
        }),
        h('span', { class: 'jp-SqlflowTransform-name' }, name)
      ),
      h(
        'div',
        { class: 'jp-SqlflowTransform-details' },
        h('span', { class: modeClass(t.mode) }, t.mode ?? '?'),
        details.length ? h('span', {}, details.join(' · ')) : null
      ),
      h('dl', { class: 'jp-SqlflowTransform-fields' }, ...rows),
      last?.status === 'failed' && last.error
        ? h('div', { class: 'jp-SqlflowTransform-error', title: last.error }, last.error)
        : null
    );
    item.addEventListener('click', () => this.select(t));
    item.addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        this.select(t);
      }
    });
    return item;
  }

  private field(label: string, value: string, cls: string, title?: string): HTMLElement {
    return h(
      'div',
      { class: `jp-SqlflowField ${cls}`, title },
      h('dt', {}, label),
      h('dd', {}, value)
    );
  }

  /** `118 inserted, 2 updated`: the counts that are not zero, in words. */
  private countsText(run: IRun): string {
    const parts: string[] = [];
    if (run.rows_inserted) parts.push(`${countText(run.rows_inserted)} inserted`);
    if (run.rows_updated) parts.push(`${countText(run.rows_updated)} updated`);
    if (run.rows_deleted) parts.push(`${countText(run.rows_deleted)} deleted`);
    return parts.length ? parts.join(', ') : 'no rows changed';
  }

  private renderHistory(snap: ISnapshot): HTMLElement {
    const s = this.selection;
    const current =
      s && this.historyFor && s.target === this.historyFor.target && s.database === this.historyFor.database;
    const runs = s
      ? current
        ? snap.history.filter(r => this.sameTarget(r, s))
        : null
      : snap.history;
    const title = h(
      'h3',
      { class: 'jp-SqlflowPanel-sectionTitle' },
      s ? 'History' : 'Recent runs',
      s ? h('span', { class: 'jp-SqlflowPanel-historyTarget' }, displayName(s.target)) : null,
      h('span', { class: 'jp-SqlflowPanel-utc', title: 'Times are in UTC' }, 'UTC')
    );
    if (s) {
      const close = h('button', {
        class: 'jp-SqlflowPanel-close jp-Button jp-mod-minimal',
        title: 'Show the recent runs of every transform',
        'aria-label': 'Close history'
      });
      closeIcon.element({ container: close, tag: 'span' });
      close.addEventListener('click', () => {
        this.selection = null;
        this.render();
        this.refresh();
      });
      title.append(close);
    }
    const section = h(
      'section',
      { class: 'jp-SqlflowPanel-section jp-SqlflowPanel-history', 'aria-label': 'History' },
      title
    );
    if (runs === null) {
      section.append(h('p', { class: 'jp-SqlflowPanel-hint' }, 'Loading history…'));
      return section;
    }
    if (!runs.length) {
      section.append(h('p', { class: 'jp-SqlflowPanel-hint' }, 'No runs recorded.'));
      return section;
    }
    const now = this.now();
    const list = h('ol', { class: 'jp-SqlflowPanel-runs' });
    for (const run of runs) {
      list.append(this.renderRun(run, now, !s));
    }
    section.append(list);
    return section;
  }

  private eventText(run: IRun): string {
    if (run.status === 'reset') {
      return run.watermark_before
        ? `watermark ${utcText(run.watermark_before)} forgotten; the next run is a full one`
        : 'watermark forgotten; the next run is a full one';
    }
    return run.status ?? 'unknown';
  }

  private renderRun(run: IRun, now: Date, withTarget: boolean): HTMLElement {
    const status = run.status ?? 'unknown';
    const isRun = status === 'success' || status === 'failed';
    const window = isRun ? windowText(run.window_start, run.window_end) : null;
    const cells = [
      ['inserted', run.rows_inserted],
      ['updated', run.rows_updated],
      ['deleted', run.rows_deleted]
    ] as const;
    return h(
      'li',
      { class: 'jp-SqlflowRun', 'data-status': status, title: `run ${run.run_id ?? '?'}` },
      h(
        'div',
        { class: 'jp-SqlflowRun-head' },
        h(
          'span',
          { class: 'jp-SqlflowRun-status', 'data-status': status, title: status },
          STATUS_ICON[status] ?? '•'
        ),
        h(
          'span',
          { class: 'jp-SqlflowRun-started', title: `${utcText(run.started_at)} UTC` },
          shortUtcText(run.started_at, now)
        ),
        withTarget ? h('span', { class: 'jp-SqlflowRun-target' }, displayName(run.target)) : null,
        isRun
          ? h('span', { class: 'jp-SqlflowRun-duration' }, durationText(run.duration_s))
          : null
      ),
      status === 'success'
        ? h(
            'div',
            { class: 'jp-SqlflowRun-counts' },
            ...(cells.some(([, n]) => n)
              ? cells
                  .filter(([, n]) => n)
                  .map(([label, n]) =>
                    h(
                      'span',
                      { class: `jp-SqlflowRun-count jp-mod-${label}` },
                      h('b', {}, countText(n)),
                      ` ${label}`
                    )
                  )
              : [h('span', { class: 'jp-SqlflowRun-count jp-mod-zero' }, 'no rows changed')])
          )
        : status === 'failed'
          ? h('div', { class: 'jp-SqlflowRun-error', title: run.error ?? '' }, run.error ?? 'failed')
          : h('div', { class: 'jp-SqlflowRun-note' }, this.eventText(run)),
      window ? h('div', { class: 'jp-SqlflowRun-window' }, `window ${window}`) : null
    );
  }

  private readonly refreshButton: HTMLButtonElement;
  private readonly contextLine: HTMLElement;
  private readonly body: HTMLElement;
  private notebook: NotebookPanel | null = null;
  private session: ISessionContext | null = null;
  private snapshot: ISnapshot | null = null;
  private selection: Selection | null = null;
  private historyFor: Selection | null = null;
  private status: { kind: 'loading' | 'empty' | 'not-loaded' | 'error'; text: string } | null =
    null;
  private updatedAt: Date | null = null;
  private clockOffset = 0;
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private stale = true;
  private restarted = false;
  private debounce = 0;
  private clock = 0;
}

/**
 * Asking a kernel for the panel's data.
 *
 * One silent execute request (no history, no execution count, no output) whose
 * `user_expressions` evaluate `sqlflow_magic.panel.panel_reply(...)`. A kernel that never
 * imported sqlflow_magic imports nothing: the expression answers `None`.
 */

import { Kernel, KernelMessage } from '@jupyterlab/services';

/** A run of `sqlflow.runs`; times are naive UTC ISO strings. */
export interface IRun {
  run_id: string | null;
  target: string | null;
  database?: string;
  mode: string | null;
  status: string | null;
  started_at: string | null;
  finished_at: string | null;
  duration_s: number | null;
  window_start: string | null;
  window_end: string | null;
  rows_in: number | null;
  rows_inserted: number | null;
  rows_updated: number | null;
  rows_deleted: number | null;
  rows_left_out: number | null;
  watermark_before: string | null;
  watermark_after: string | null;
  error: string | null;
}

export interface ITransform {
  target: string;
  database: string;
  mode: string | null;
  keys: string[];
  time_column: string | null;
  lookback: string | null;
  definition: string | null;
  created_at: string | null;
  updated_at: string | null;
  watermark: string | null;
  lag_s: number | null;
  runs: number;
  failed_runs: number;
  last_run: IRun | null;
}

export interface ISnapshot {
  loaded: boolean;
  now: string;
  database: string | null;
  path: string | null;
  databases: string[];
  transforms: ITransform[];
  history: IRun[];
  error: string | null;
}

/** Why there is no snapshot: not a sqlflow kernel, or the request failed. */
export class SnapshotUnavailable extends Error {
  constructor(
    message: string,
    readonly reason: 'not-loaded' | 'error'
  ) {
    super(message);
  }
}

function pyString(value: string | null): string {
  // JSON string syntax is a subset of Python's string literal syntax.
  return value === null ? 'None' : JSON.stringify(value);
}

export function snapshotExpression(target: string | null): string {
  return (
    "(__import__('sqlflow_magic.panel', fromlist=['panel_reply'])" +
    `.panel_reply(${pyString(target)}) ` +
    "if 'sqlflow_magic' in __import__('sys').modules else None)"
  );
}

export async function fetchSnapshot(
  kernel: Kernel.IKernelConnection,
  target: string | null
): Promise<ISnapshot> {
  const future = kernel.requestExecute(
    {
      code: '',
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false,
      user_expressions: { sqlflow: snapshotExpression(target) }
    },
    true
  );
  const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
  const content = reply.content as KernelMessage.IExecuteReply & {
    user_expressions?: Record<string, any>;
  };
  if (content.status !== 'ok') {
    throw new SnapshotUnavailable('The kernel did not answer the panel.', 'error');
  }
  const value = (content.user_expressions ?? {})['sqlflow'] as any;
  if (!value || value.status !== 'ok') {
    const why = value ? `${value.ename}: ${value.evalue}` : 'no answer';
    throw new SnapshotUnavailable(
      `This kernel cannot report sqlflow state (${why}).`,
      'error'
    );
  }
  const text: string = value.data?.['text/plain'] ?? 'None';
  if (text === 'None') {
    throw new SnapshotUnavailable('sqlflow_magic is not loaded in this kernel.', 'not-loaded');
  }
  const snapshot = JSON.parse(text) as ISnapshot;
  if (!snapshot.loaded) {
    throw new SnapshotUnavailable('sqlflow_magic is not loaded in this kernel.', 'not-loaded');
  }
  return snapshot;
}

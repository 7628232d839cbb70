export interface RetryPolicy {
  /** After this many attempts a failure is final (`failed`). */
  maxAttempts: number;
  /** Delay before the 2nd attempt; doubles each time. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** 0..1: the delay is drawn uniformly from [delay × (1 − jitter), delay]. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 8,
  baseDelayMs: 30_000,
  maxDelayMs: 6 * 3600_000,
  jitter: 0.5,
};

/** Exponential backoff with jitter for the retry after `attempt` failed attempts. */
export function retryDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(
    policy.maxDelayMs,
    policy.baseDelayMs * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(exponential * (1 - policy.jitter * random()));
}

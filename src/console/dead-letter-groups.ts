/**
 * Dead letters grouped the way an operator triages them: by why they are
 * there (`reason`) and what the handler threw (`errorType`), and the filters
 * the page's replay buttons turn into a `replayDeadLetters` filter.
 */
import type { DeadLetter } from "../dlq/dead-letter.ts";

/** Dead letters that share a reason and an error type. */
export interface DeadLetterGroup {
  /** `null` when the message carries no reason (published into `Q.dlq` by hand). */
  reason: string | null;
  /** `null` when no handler error is recorded (e.g. the broker's delivery limit). */
  errorType: string | null;
  count: number;
  /** Earliest `warren-first-failed-at` (else `failedAt`) in the group, as an ISO date. */
  firstFailedAt: string | null;
  /** Latest `warren-failed-at` in the group. */
  lastFailedAt: string | null;
  /** The error message of the group's first letter, as an example. */
  exampleMessage: string | null;
}

const earlier = (a: string | null, b: string | undefined) =>
  b === undefined ? a : a === null || b < a ? b : a;
const later = (a: string | null, b: string | undefined) =>
  b === undefined ? a : a === null || b > a ? b : a;

/** Groups letters by reason and error type, largest group first (pure). */
export function groupDeadLetters(letters: readonly DeadLetter[]): DeadLetterGroup[] {
  const groups = new Map<string, DeadLetterGroup>();
  for (const letter of letters) {
    const reason = letter.reason ?? null;
    const errorType = letter.errorType ?? null;
    const key = JSON.stringify([reason, errorType]);
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        reason,
        errorType,
        count: 0,
        firstFailedAt: null,
        lastFailedAt: null,
        exampleMessage: letter.errorMessage ?? null,
      };
      groups.set(key, group);
    }
    group.count++;
    group.firstFailedAt = earlier(group.firstFailedAt, letter.firstFailedAt ?? letter.failedAt);
    group.lastFailedAt = later(group.lastFailedAt, letter.failedAt ?? letter.xDeath?.[0]?.time);
  }
  return [...groups.values()].sort(
    (a, b) =>
      b.count - a.count ||
      String(a.reason).localeCompare(String(b.reason)) ||
      String(a.errorType).localeCompare(String(b.errorType)),
  );
}

/** One dead letter the page selected: its position when listed and its messageId. */
export interface SelectedLetter {
  position: number;
  messageId: string | null;
}

/**
 * Matches exactly the selected letters. Both the position and the messageId
 * must match, so if `Q.dlq` changed since the page listed it (someone else
 * replayed or purged), a stale selection matches nothing rather than the
 * wrong message; the page then reports fewer replayed than selected.
 */
export function selectionFilter(selected: readonly SelectedLetter[]): (l: DeadLetter) => boolean {
  const keys = new Set(selected.map((s) => JSON.stringify([s.position, s.messageId])));
  return (letter) => keys.has(JSON.stringify([letter.position, letter.messageId ?? null]));
}

/** Matches the letters of one group (`null` matches an absent field). */
export function groupFilter(group: {
  reason: string | null;
  errorType: string | null;
}): (l: DeadLetter) => boolean {
  return (letter) =>
    (letter.reason ?? null) === group.reason && (letter.errorType ?? null) === group.errorType;
}

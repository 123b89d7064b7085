"""Overall impact (low / medium / high) and the recommendations for one statement."""

from __future__ import annotations

from ..locks import LockImpact
from ..stats import Activity, TableSize

HIGH_BLOCKED_S = 10.0  # reads or writes wait this long: users notice, requests time out
MEDIUM_BLOCKED_S = 1.0
LONG_WORK_S = 600.0  # non-blocking work this long still loads the server and its replicas
BUSY_TRANSACTION_S = 10.0  # an open transaction this old makes a lock request queue
UNKNOWN_BIG_ROWS = 100_000


def level(claim: LockImpact, blocked_s: float, work_s: float, size: TableSize | None, activity: Activity | None) -> str:
    if not claim.known:
        return "high" if size is not None and size.rows >= UNKNOWN_BIG_ROWS else "medium"
    blocks = claim.blocks_reads or claim.blocks_writes
    if blocks and blocked_s >= HIGH_BLOCKED_S:
        return "high"
    if blocks and blocked_s >= MEDIUM_BLOCKED_S:
        return "medium"
    if work_s >= LONG_WORK_S:
        return "medium"
    if claim.blocks_reads and _long_transaction(activity):
        return "medium"  # brief, but it queues behind the open transaction and everything queues behind it
    return "low"


def recommendations(
    claim: LockImpact, impact: str, extra_disk: int, activity: Activity | None, window: str | None
) -> list[str]:
    advice = []
    busy = claim.rewrites_table or claim.scans_table or claim.builds_index
    if claim.safer and (impact != "low" or busy):
        advice.append(claim.safer)
    if (claim.blocks_reads or claim.blocks_writes) and not busy:
        advice.append(
            "Set a short lock timeout (PostgreSQL lock_timeout, MySQL lock_wait_timeout: a few seconds) "
            "and retry, so the brief lock never waits in front of the traffic."
        )
    if extra_disk >= 1_048_576:  # below a megabyte the advice is noise ("about 0 MB")
        advice.append(f"Needs about {extra_disk / 1_048_576:,.0f} MB of free disk while it runs.")
    if impact != "low":
        advice += _timing(activity, window)
    return list(dict.fromkeys(advice))


def _timing(activity: Activity | None, window: str | None) -> list[str]:
    advice = []
    if window:
        advice.append(f"Run it inside the environment's maintenance window ({window}).")
    if activity is not None and activity.quieter_than_usual is False:
        advice.append(
            f"The server is busier now ({activity.current_tps:,.1f}/s) than its average "
            f"({activity.average_tps:,.1f}/s, {activity.source}): prefer a quieter time."
        )
    if _long_transaction(activity):
        advice.append(
            f"{activity.open_transactions} transaction(s) are open, the oldest for "
            f"{activity.oldest_transaction_s:,.0f} s: the lock waits for them (watch with the query)."
        )
    return advice


def _long_transaction(activity: Activity | None) -> bool:
    return bool(activity and activity.oldest_transaction_s and activity.oldest_transaction_s >= BUSY_TRANSACTION_S)

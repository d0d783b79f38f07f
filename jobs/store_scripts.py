"""The job store's Lua scripts (jobs.store), one constant per atomic step of a job's life.

Every status change is one of these scripts, so a change is atomic and a job in a terminal
status never changes again: a redelivered message (after a crashed worker or a visibility
timeout) cannot overwrite a result with another one. The scripts that end a job also publish
its new status on the job's channel, in the same atomic step (`JobStore.wait` listens there).
"""

from __future__ import annotations

from jobs.telemetry import Increments


def add_metrics_lua(first: int | str) -> str:
    """Lua that adds the `Increments` passed from ARGV[first] on (`metrics_args`), if any:
    the hash, the number of counts, the (field, count) pairs, then (field, amount) pairs.
    `first` is a number or a Lua expression."""
    return f"""
local m = {first}
if #ARGV >= m then
  local counts_end = m + 1 + 2 * tonumber(ARGV[m + 1])
  for i = m + 2, counts_end, 2 do
    redis.call('HINCRBY', ARGV[m], ARGV[i], ARGV[i + 1])
  end
  for i = counts_end + 1, #ARGV, 2 do
    redis.call('HINCRBYFLOAT', ARGV[m], ARGV[i], ARGV[i + 1])
  end
end
"""


def metrics_args(metrics: Increments | None) -> list[str | int]:
    """`metrics` as the scripts' last arguments (read by `add_metrics_lua`)."""
    if metrics is None:
        return []
    return [
        metrics.key,
        len(metrics.counts),
        *(item for pair in metrics.counts.items() for item in pair),
        *(item for name, amount in metrics.sums.items() for item in (name, repr(amount))),
    ]


# Gives an ending job's count back to its lane's caps, once (a fragment of the ending scripts).
# A job counts towards the queue's caps from its creation until it ends: its record holds
# what it counts for (`queued_bytes`) until then, and the scripts that end a job (START
# when out of attempts, FINISH, CANCEL) give it back here, once. KEYS[2] and KEYS[3] are
# the interactive lane's counters of jobs and bytes, KEYS[4] and KEYS[5] the bulk lane's
# (a record without a priority is an interactive job's, as every job was before the lanes).
# KEYS[6] is the index of jobs not ended (jobs.sweeper reads it): the job leaves it here.
RELEASE = """
local counted = redis.call('HGET', KEYS[1], 'queued_bytes')
if counted then
  local lane = 2
  if redis.call('HGET', KEYS[1], 'priority') == 'bulk' then lane = 4 end
  redis.call('HDEL', KEYS[1], 'queued_bytes')
  redis.call('DECR', KEYS[lane])
  redis.call('DECRBY', KEYS[lane + 1], counted)
end
redis.call('ZREM', KEYS[6], redis.call('HGET', KEYS[1], 'id') or '')
"""


# Marks a job running and answers its request, or fails it when out of attempts.
# ARGV[6]: the fence key, or '': a job not run now (missing, ended) writes to it, so that a
# WAIT after the script confirms that a replica holds what the script read (replication is
# in order): a worker acknowledges no message on the word of a primary that a failover is
# about to overrule.
START = (
    """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'succeeded' or status == 'failed' or status == 'canceled' then
  if ARGV[6] ~= '' then redis.call('INCR', ARGV[6]) end
  return {status or 'missing', false}
end
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
if attempts >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'finished_at', ARGV[1], 'error', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  redis.call('PUBLISH', ARGV[5], 'failed')
"""
    + RELEASE
    + """
  return {'failed', false}
end
redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return {'running', redis.call('HGET', KEYS[1], 'request')}
"""
)

# Ends a job that has not ended with its result or error; counts a late write otherwise.
FINISH = (
    """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 0 end
if status == 'succeeded' or status == 'failed' or status == 'canceled' then
  redis.call('HINCRBY', KEYS[1], 'late_writes', 1)
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], ARGV[2], ARGV[3], 'finished_at', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'writes', 1)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[1])
"""
    + RELEASE
    + add_metrics_lua(7)
    + """
return 1
"""
)


# Defines `admit`, which counts new jobs under a lane's caps (a fragment of the creating scripts).
# Whether `n` more jobs of `size` bytes in all fit under the caps ARGV[cap], ARGV[cap + 1]
# (counters KEYS[first], KEYS[first + 1]); if they do, they are counted.
ADMIT = """
local function admit(first, cap, n, size)
  local jobs = tonumber(redis.call('GET', KEYS[first]) or '0')
  local bytes = tonumber(redis.call('GET', KEYS[first + 1]) or '0')
  if jobs + n > tonumber(ARGV[cap]) or bytes + size > tonumber(ARGV[cap + 1]) then
    return false
  end
  redis.call('INCRBY', KEYS[first], n)
  redis.call('INCRBY', KEYS[first + 1], size)
  return true
end
"""

# Records a queued job and pushes its message, unless its idempotency key or a full lane says no.
# KEYS: the job, its lane's counters of queued jobs and bytes, the index of jobs not ended.
# ARGV: id, now, request, pending TTL, idempotency key, request digest, idempotency TTL, queue
# list, message, owner, the caps on jobs and bytes, the job's size, its priority; then
# metrics. Answers {1, id},
# {0, '<id> <digest>'} (the idempotency key's job) or {2, ''} (the lane is full: nothing
# recorded).
CREATE = (
    ADMIT
    + """
if ARGV[5] ~= '' then
  local existing = redis.call('GET', ARGV[5])
  if existing then return {0, existing} end
end
if not admit(2, 11, 1, tonumber(ARGV[13])) then return {2, ''} end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'queued', 'created_at', ARGV[2],
           'attempts', 0, 'request', ARGV[3], 'owner', ARGV[10], 'queued_bytes', ARGV[13],
           'priority', ARGV[14])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('SET', ARGV[5], ARGV[1] .. ' ' .. ARGV[6], 'EX', ARGV[7])
end
if ARGV[8] ~= '' then
  redis.call('LPUSH', ARGV[8], ARGV[9])
  redis.call('ZADD', KEYS[4], redis.call('TIME')[1], ARGV[1])
end
"""
    + add_metrics_lua(15)
    + """
return {1, ARGV[1]}
"""
)

# Records a batch and its queued jobs, all or nothing.
# KEYS: its lane's counters of queued jobs and bytes, the batch, the index of jobs not ended,
# then each job. ARGV: now, pending TTL, owner, the caps on jobs and bytes, queue list, the
# batch's job ids (JSON), its size in bytes, the jobs' priority, then (id, request, message,
# size) for each job; then metrics. Answers 1, or 0 when the queue is full (nothing recorded).
CREATE_BATCH = (
    ADMIT
    + """
local n = #KEYS - 4
if not admit(1, 4, n, tonumber(ARGV[8])) then return 0 end
local now = redis.call('TIME')[1]
for j = 1, n do
  local a = 9 + 4 * (j - 1)
  redis.call('HSET', KEYS[4 + j], 'id', ARGV[a + 1], 'status', 'queued', 'created_at', ARGV[1],
             'attempts', 0, 'request', ARGV[a + 2], 'owner', ARGV[3],
             'queued_bytes', ARGV[a + 4], 'priority', ARGV[9])
  redis.call('EXPIRE', KEYS[4 + j], ARGV[2])
  redis.call('LPUSH', ARGV[6], ARGV[a + 3])
  redis.call('ZADD', KEYS[4], now, ARGV[a + 1])
end
redis.call('HSET', KEYS[3], 'created_at', ARGV[1], 'jobs', ARGV[7], 'owner', ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[2])
"""
    + add_metrics_lua("10 + 4 * n")
    + """
return 1
"""
)

# Cancels a queued or running job; answers 'missing', its terminal status, or 'was_<status>'.
CANCEL = (
    """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == 'succeeded' or status == 'failed' or status == 'canceled' then return status end
redis.call('HSET', KEYS[1], 'status', 'canceled', 'finished_at', ARGV[1],
           'error', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], 'canceled')
"""
    + RELEASE
    + add_metrics_lua(5)
    + """
return 'was_' .. status
"""
)


# Takes back a job whose creation no replica confirmed, as if it had never been made: its
# record, its queue message, its idempotency key (when it still names this job), its count
# in its lane and in the index, and what its creation added to the metrics (passed negated).
# KEYS: the job, the lanes' counters and the index (as RELEASE). ARGV: the idempotency key
# or '', the job's id, the queue list, the message; then metrics. A worker that took the
# message already finds no record and runs nothing.
RETRACT = (
    """
if ARGV[1] ~= '' then
  local named = redis.call('GET', ARGV[1])
  if named and string.sub(named, 1, #ARGV[2] + 1) == ARGV[2] .. ' ' then
    redis.call('DEL', ARGV[1])
  end
end
redis.call('LREM', ARGV[3], 1, ARGV[4])
"""
    + RELEASE
    + """
redis.call('DEL', KEYS[1])
"""
    + add_metrics_lua(5)
    + """
return 1
"""
)


# Pushes a new queue message for a job whose message is lost (jobs.sweeper), unless the job
# has ended or gone meanwhile (it then leaves the index). KEYS: the job, the index of jobs not
# ended. ARGV: the queue list, the message, the job's id. Answers 1 when pushed, else 0.
REPUBLISH = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'running' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 0
end
redis.call('LPUSH', ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'republished', 1)
redis.call('ZADD', KEYS[2], redis.call('TIME')[1], ARGV[3])
return 1
"""

package dev.locking.redis;

import dev.locking.api.LockingException;
import dev.locking.spi.AcquireRequest;
import dev.locking.spi.AcquireResult;
import dev.locking.spi.HeldLock;
import dev.locking.spi.LockingProvider;
import dev.locking.spi.ProviderContext;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Locks in Redis, one Lua script per step. On a standalone server every call is one script in one
 * round trip, owner index included. On a Redis Cluster the keys of a call are grouped by slot: one
 * group is one script; several are taken group by group in slot order and rolled back if a later
 * group is blocked, and the owner index (in its own slot) is updated in a second step.
 *
 * <p>See {@link RedisKeys} for the key layout and the scripts next to this class for each step.
 */
final class RedisLockingProvider implements LockingProvider {
    private static final Logger log = LoggerFactory.getLogger(RedisLockingProvider.class);
    private static final String ANONYMOUS = "a";
    /** Keys per script call in releaseAll, so that a huge index does not become one huge script run. */
    private static final int BATCH = 200;
    /**
     * The field of an owner index that is not a user key (user keys are never blank): acquire.lua
     * puts it in an index that has an expiry; a release that leaves only it deletes the index.
     */
    static final String INDEX_KEEPER = "";

    private final RedisSettings settings;
    private final String registration;
    private final RedisKeys keys;
    private final RedisStore store;
    private final ReleaseSubscriber subscriber;
    /**
     * Attempt ids (see acquire.lua) are this prefix, random per provider instance, and a counter:
     * unique like a random UUID per attempt, without a call into the shared SecureRandom each time.
     */
    private final String attemptPrefix = randomPrefix();

    private final AtomicLong attempts = new AtomicLong();
    /** Each waiting caller's ticket, taken once per wait so it keeps its place across attempts. */
    private final Map<String, Long> tickets = new ConcurrentHashMap<>();

    RedisLockingProvider(RedisSettings settings, ProviderContext context) {
        this.settings = settings;
        this.registration = "lp_" + context.registrationId();
        this.keys = new RedisKeys(settings.namespace);
        this.store = new RedisStore(settings, registration);
        this.subscriber = new ReleaseSubscriber(store, keys.channel(), registration, context::keyReleased);
        try {
            store.checkMemoryPolicyAtStart();
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
        log.info(
                "Redis provider {}: {}, namespace \"{}\", poll interval {} ms",
                registration,
                settings.endpoint(),
                settings.namespace,
                settings.pollInterval.toMillis());
    }

    // ---- acquire ---------------------------------------------------------------------------------

    @Override
    public AcquireResult tryAcquire(AcquireRequest request) {
        // One script takes all the keys of a slot, and Redis serves no other client while it runs.
        if (request.keys().size() > settings.maxKeysPerCall)
            throw new IllegalArgumentException("keys: " + request.keys().size() + " keys in one call, but "
                    + registration + " takes at most " + settings.maxKeysPerCall + " (its option max-keys-per-call):"
                    + " Redis serves no other client while one call takes its keys");
        try {
            store.checkMemoryPolicyBeforeAcquire();
        } catch (LockingException e) {
            throw new NothingSent(e); // a read, before any lock script
        }
        String waiter = request.waiterId();
        if (waiter != null) subscriber.start();
        List<List<String>> groups = groups(request.keys());
        Long deadline = RedisStore.deadline(request.budget());
        AcquireResult result;
        try {
            result = groups.size() == 1
                    ? acquireGroup(request, groups.get(0), deadline)
                    : acquireAcrossSlots(request, groups, deadline);
        } catch (LockingException e) {
            // The caller's time ran out waiting its turn for a connection: to the caller that is a
            // key not taken in time (a timeout), not a failure of Redis, when nothing was taken. A
            // call that may have been granted fails instead, so that core undoes it.
            if (deadline == null || !RedisStore.poolBusy(e) || mayHaveActed(e)) throw e;
            log.debug("Redis provider {}: {}", registration, e.getMessage());
            return new AcquireResult.Blocked(request.keys().get(0), null, null);
        }
        if (waiter != null && result instanceof AcquireResult.Acquired) tickets.remove(waiter);
        return result;
    }

    /** An acquire that failed before it sent Redis any lock script. */
    private static final class NothingSent extends LockingException {
        private static final long serialVersionUID = 1L;

        NothingSent(LockingException e) {
            super(e.getMessage(), e.getCause());
        }
    }

    @Override
    public boolean mayHaveTaken(RuntimeException failure) {
        if (failure instanceof IllegalArgumentException || failure instanceof NothingSent) return false;
        if (mayHaveActed(failure)) return true;
        // No try reached Redis: no connection could be had (refused, unresolvable, the pool busy).
        return !RedisStore.neverSent(failure);
    }

    /**
     * True when a failed acquire may have taken keys: a try before the one that failed broke after
     * it was sent (its reply lost), or a rollback failed. {@link RedisStore#call} and {@link
     * #rollbackQuietly} add those failures as suppressed exceptions.
     */
    private static boolean mayHaveActed(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) if (t.getSuppressed().length > 0) return true;
        return false;
    }

    /** All keys in one slot (always on a standalone server): one script, one round trip. */
    private AcquireResult acquireGroup(AcquireRequest request, List<String> group, Long deadline) {
        String attempt = nextAttempt();
        boolean indexInScript = !store.cluster();
        Reply reply = runAcquire(request, group, attempt, true, indexInScript, deadline);
        if (reply.needsTicket()) reply = runAcquire(request, group, attempt, true, indexInScript, deadline);
        if (!reply.acquired()) return reply.blocked(group);
        if (!indexInScript) {
            try {
                addToIndex(request, List.of(group), List.of(reply));
            } catch (LockingException e) {
                // The caller is told the acquire failed, so it must not keep the keys either.
                rollbackQuietly(request, List.of(group), List.of(reply), e);
                throw e;
            }
        }
        return reply.acquired(group, null);
    }

    /**
     * Keys in several cluster slots: slot groups are taken in ascending slot order, each atomically.
     * When one is blocked, the groups already taken are rolled back (only keys this call newly took:
     * a key the owner already held stays held), and a waiter is queued on every key, so the call is
     * all-or-nothing for its caller. Re-entered keys get the new lease only once every group is in;
     * a re-entered key whose lease ran out meanwhile (a slow later group) fails the call like a
     * blocked key, since another owner may already hold it. A waiter stays queued, with its ticket,
     * on every key throughout: a rollback puts it back in the same step that frees the key.
     */
    private AcquireResult acquireAcrossSlots(AcquireRequest request, List<List<String>> groups, Long deadline) {
        String attempt = nextAttempt();
        List<Reply> taken = new ArrayList<>();
        try {
            for (List<String> group : groups) {
                Reply reply = runAcquire(request, group, attempt, false, false, deadline);
                if (!reply.acquired()) {
                    giveBack(request, groups, taken);
                    return reply.blocked(group);
                }
                taken.add(reply);
            }
            if (request.lease() != null) {
                for (int i = 0; i < groups.size(); i++) {
                    List<String> reentered = taken.get(i).reentered(groups.get(i));
                    if (reentered.isEmpty()) continue;
                    String lost = renewReentered(reentered, request.owner(), request.lease());
                    if (lost != null) {
                        // Its old lease ended before the new one could be set: the owner does not
                        // hold it now, so the call must not report it held until now + lease.
                        giveBack(request, groups, taken);
                        return new AcquireResult.Blocked(lost, Duration.ZERO, null);
                    }
                }
            }
            addToIndex(request, groups, taken);
        } catch (LockingException e) {
            rollbackQuietly(request, groups, taken, e);
            throw e;
        }
        Map<String, Long> tokens = new HashMap<>();
        Instant expiresAt = null;
        for (int i = 0; i < groups.size(); i++) {
            AcquireResult.Acquired part = taken.get(i).acquired(groups.get(i), request.lease());
            tokens.putAll(part.fencingTokens());
            if (part.expiresAt() != null
                    && (expiresAt == null || part.expiresAt().isBefore(expiresAt))) expiresAt = part.expiresAt();
        }
        return new AcquireResult.Acquired(tokens, expiresAt);
    }

    /** Rolls back what this call took and queues a waiter on every key: the call is blocked. */
    private void giveBack(AcquireRequest request, List<List<String>> groups, List<Reply> taken) {
        rollback(request, groups, taken);
        taken.clear();
        if (request.waiterId() != null) enqueueEverywhere(request.waiterId(), groups);
    }

    /** Sets the lease of keys the owner held before the call; the first one it no longer holds, or null. */
    private String renewReentered(List<String> group, String owner, Duration lease) {
        List<String> recordKeys = new ArrayList<>(group.size());
        for (String key : group) recordKeys.add(keys.lock(key));
        List<?> reply = store.eval(
                LuaScript.RENEW,
                recordKeys,
                List.of(Integer.toString(group.size()), marker(owner), Long.toString(leaseMillis(lease))));
        if (asLong(reply.get(0)) == 1) return null;
        return group.get((int) asLong(reply.get(2)) - 1);
    }

    private Reply runAcquire(
            AcquireRequest request,
            List<String> group,
            String attempt,
            boolean leaseOnReentry,
            boolean index,
            Long deadline) {
        String waiter = request.waiterId();
        Long ticket = waiter == null ? null : tickets.get(waiter);
        List<String> recordKeys = new ArrayList<>(group.size() * 4 + 1);
        for (String key : group) {
            recordKeys.add(keys.lock(key));
            recordKeys.add(keys.fence(key));
            recordKeys.add(keys.queue(key));
            recordKeys.add(keys.deadlines(key));
        }
        if (index) recordKeys.add(keys.ownerIndex(request.owner()));
        List<String> args = new ArrayList<>(group.size() + 10);
        args.add(Integer.toString(group.size()));
        args.add(marker(request.owner()));
        args.add(request.lease() == null ? "" : Long.toString(leaseMillis(request.lease())));
        args.add(waiter == null ? "" : waiter);
        args.add(ticket == null ? "" : Long.toString(ticket));
        args.add(Long.toString(settings.waiterExpiry.toMillis()));
        args.add(attempt);
        args.add(leaseOnReentry ? "1" : "0");
        args.add(Long.toString(settings.fencingCounterRetention.toMillis()));
        args.add(request.grantId());
        args.addAll(group);
        Reply reply = new Reply(store.eval(LuaScript.ACQUIRE, recordKeys, args, deadline));
        if (reply.needsTicket()) takeTicket(waiter);
        return reply;
    }

    /** One counter for the whole store, so that every queue orders two waiters the same way. */
    private void takeTicket(String waiter) {
        if (tickets.containsKey(waiter)) return;
        long ticket = store.call("take a waiter ticket", jedis -> jedis.incr(keys.ticketCounter()));
        tickets.put(waiter, ticket);
    }

    private void enqueueEverywhere(String waiter, List<List<String>> groups) {
        takeTicket(waiter);
        String ticket = Long.toString(tickets.get(waiter));
        for (List<String> group : groups) {
            List<String> recordKeys = new ArrayList<>();
            for (String key : group) {
                recordKeys.add(keys.queue(key));
                recordKeys.add(keys.deadlines(key));
            }
            store.eval(
                    LuaScript.ENQUEUE,
                    recordKeys,
                    List.of(
                            Integer.toString(group.size()),
                            waiter,
                            ticket,
                            Long.toString(settings.waiterExpiry.toMillis())));
        }
    }

    /**
     * Frees the keys this call newly took in the groups of {@code taken} (token-checked), and puts a
     * waiter back in their queues with its ticket in the same step: the grant dequeued it.
     */
    private void rollback(AcquireRequest request, List<List<String>> groups, List<Reply> taken) {
        String waiter = request.waiterId();
        Long ticket = waiter == null ? null : tickets.get(waiter);
        boolean requeue = ticket != null;
        for (int i = 0; i < taken.size(); i++) {
            List<String> group = groups.get(i);
            Reply reply = taken.get(i);
            List<String> recordKeys = new ArrayList<>();
            List<String> args = new ArrayList<>();
            args.add("0");
            args.add(keys.channel());
            args.add(requeue ? waiter : "");
            args.add(requeue ? Long.toString(ticket) : "");
            args.add(Long.toString(settings.waiterExpiry.toMillis()));
            int n = 0;
            for (int k = 0; k < group.size(); k++) {
                boolean isNew = reply.isNew(k);
                if (!isNew && !requeue) continue;
                recordKeys.add(keys.lock(group.get(k)));
                recordKeys.add(keys.queue(group.get(k)));
                recordKeys.add(keys.deadlines(group.get(k)));
                args.add(isNew ? Long.toString(reply.token(k)) : "");
                args.add(group.get(k));
                n++;
            }
            if (n == 0) continue;
            args.set(0, Integer.toString(n));
            store.eval(LuaScript.ROLLBACK, recordKeys, args);
        }
    }

    private void rollbackQuietly(
            AcquireRequest request, List<List<String>> groups, List<Reply> taken, LockingException cause) {
        try {
            rollback(request, groups, taken);
        } catch (LockingException e) {
            // The call fails with cause: core then undoes it by its grant id, in the background until Redis answers.
            cause.addSuppressed(e);
            log.debug(
                    "Redis provider {}: could not roll back a partly taken cross-slot lock ({}); the failed call is"
                            + " undone by its grant id",
                    registration,
                    e.getMessage());
        }
    }

    /** Cluster only: the owner index lives in its own slot, so it is written after the locks. */
    private void addToIndex(AcquireRequest request, List<List<String>> groups, List<Reply> replies) {
        List<String> args = new ArrayList<>();
        args.add(request.lease() == null ? "-1" : Long.toString(leaseMillis(request.lease())));
        for (int i = 0; i < groups.size(); i++) {
            for (int k = 0; k < groups.get(i).size(); k++) {
                args.add(groups.get(i).get(k));
                args.add(Long.toString(replies.get(i).token(k)));
            }
        }
        store.eval(LuaScript.INDEX_ADD, List.of(keys.ownerIndex(request.owner())), args);
    }

    // ---- release, renew, releaseAll, leaveQueue --------------------------------------------------

    @Override
    public boolean release(List<String> userKeys, String owner) {
        store.endAbandonedConnections();
        return releaseKeys(userKeys, owner, null) == userKeys.size();
    }

    /**
     * Frees the keys {@code owner} holds among {@code userKeys}, one script per slot group.
     *
     * @param indexTokens the index entries read by releaseAll (cluster: dropped when unchanged); null
     *     to drop the entries of the keys freed
     */
    private int releaseKeys(List<String> userKeys, String owner, Map<String, String> indexTokens) {
        String marker = marker(owner);
        String index = keys.ownerIndex(owner);
        int freed = 0;
        for (List<String> group : groups(userKeys)) {
            for (List<String> batch : batches(group)) {
                List<String> recordKeys = new ArrayList<>(batch.size() * 3 + 1);
                for (String key : batch) {
                    recordKeys.add(keys.lock(key));
                    recordKeys.add(keys.queue(key));
                    recordKeys.add(keys.deadlines(key));
                }
                if (!store.cluster()) recordKeys.add(index);
                List<String> args = new ArrayList<>(batch.size() + 3);
                args.add(Integer.toString(batch.size()));
                args.add(marker);
                args.add(keys.channel());
                args.addAll(batch);
                // The count alone when the script dropped the index entries itself; else the count first.
                List<?> reply = store.eval(LuaScript.RELEASE, recordKeys, args);
                freed += (int) asLong(reply.get(0));
                if (store.cluster()) {
                    List<String> stale = new ArrayList<>();
                    if (indexTokens == null) {
                        for (int i = 1; i + 1 < reply.size(); i += 2) {
                            stale.add(batch.get((int) asLong(reply.get(i)) - 1));
                            stale.add(asString(reply.get(i + 1)));
                        }
                    } else {
                        for (String key : batch) {
                            stale.add(key);
                            stale.add(indexTokens.get(key));
                        }
                    }
                    if (!stale.isEmpty()) store.eval(LuaScript.INDEX_REMOVE, List.of(index), stale);
                }
            }
        }
        return freed;
    }

    /**
     * Frees the keys {@code owner} holds by a grant of the call {@code grantId} (acquire.lua keeps
     * it with each key a call takes free, and drops it when another call re-enters the key), one
     * script per slot group, as a release does: waiters are told, the owner index loses the keys
     * freed. Idempotent.
     */
    @Override
    public void undo(List<String> userKeys, String owner, String grantId) {
        // First, so that a script of the call still held back by the network can never run after the undo.
        store.endAbandonedConnections();
        String marker = marker(owner);
        String index = keys.ownerIndex(owner);
        for (List<String> group : groups(userKeys)) {
            for (List<String> batch : batches(group)) {
                List<String> recordKeys = new ArrayList<>(batch.size() * 3 + 1);
                for (String key : batch) {
                    recordKeys.add(keys.lock(key));
                    recordKeys.add(keys.queue(key));
                    recordKeys.add(keys.deadlines(key));
                }
                if (!store.cluster()) recordKeys.add(index);
                List<String> args = new ArrayList<>(batch.size() + 4);
                args.add(Integer.toString(batch.size()));
                args.add(marker);
                args.add(keys.channel());
                args.add(grantId);
                args.addAll(batch);
                List<?> reply = store.eval(LuaScript.UNDO, recordKeys, args);
                if (!store.cluster()) continue;
                // Cluster: the index is in its own slot; its entries go only if they still carry the token freed.
                List<String> stale = new ArrayList<>();
                for (int i = 1; i + 1 < reply.size(); i += 2) {
                    stale.add(batch.get((int) asLong(reply.get(i)) - 1));
                    stale.add(asString(reply.get(i + 1)));
                }
                if (!stale.isEmpty()) store.eval(LuaScript.INDEX_REMOVE, List.of(index), stale);
            }
        }
    }

    @Override
    public int releaseAll(String owner) {
        String index = keys.ownerIndex(owner);
        Map<String, String> entries = new HashMap<>(store.call("read the lock index", jedis -> jedis.hgetAll(index)));
        entries.remove(INDEX_KEEPER);
        if (entries.isEmpty()) return 0;
        return releaseKeys(new ArrayList<>(new TreeMap<>(entries).keySet()), owner, entries);
    }

    @Override
    public boolean renew(List<String> userKeys, String owner, Duration lease) {
        boolean all = true;
        for (List<String> group : groups(userKeys)) all &= renewGroup(group, owner, lease);
        if (store.cluster() && all)
            store.eval(
                    LuaScript.INDEX_ADD, List.of(keys.ownerIndex(owner)), List.of(Long.toString(leaseMillis(lease))));
        return all;
    }

    private boolean renewGroup(List<String> group, String owner, Duration lease) {
        List<String> recordKeys = new ArrayList<>(group.size() + 1);
        for (String key : group) recordKeys.add(keys.lock(key));
        if (!store.cluster()) recordKeys.add(keys.ownerIndex(owner));
        List<?> reply = store.eval(
                LuaScript.RENEW,
                recordKeys,
                List.of(Integer.toString(group.size()), marker(owner), Long.toString(leaseMillis(lease))));
        return asLong(reply.get(0)) == 1;
    }

    @Override
    public void leaveQueue(List<String> userKeys, String waiterId) {
        tickets.remove(waiterId);
        for (List<String> group : groups(userKeys)) {
            List<String> recordKeys = new ArrayList<>(group.size() * 3);
            for (String key : group) {
                recordKeys.add(keys.queue(key));
                recordKeys.add(keys.deadlines(key));
                recordKeys.add(keys.lock(key));
            }
            List<String> args = new ArrayList<>(group.size() + 3);
            args.add(Integer.toString(group.size()));
            args.add(waiterId);
            args.add(keys.channel());
            args.addAll(group);
            store.eval(LuaScript.LEAVE_QUEUE, recordKeys, args);
        }
    }

    /** One script per slot group pushes back the deadlines of every parked waiter's entries. */
    @Override
    public boolean refreshWaiters(Map<String, List<String>> keysByWaiterId) {
        Map<String, List<String>> waitersByKey = new TreeMap<>();
        keysByWaiterId.forEach((waiter, userKeys) -> {
            for (String key : userKeys)
                waitersByKey.computeIfAbsent(key, k -> new ArrayList<>()).add(waiter);
        });
        if (waitersByKey.isEmpty()) return true;
        for (List<String> group : groups(List.copyOf(waitersByKey.keySet()))) {
            List<String> recordKeys = new ArrayList<>(group.size());
            List<String> args = new ArrayList<>();
            args.add(Long.toString(settings.waiterExpiry.toMillis()));
            for (String key : group) {
                recordKeys.add(keys.deadlines(key));
                List<String> waiting = waitersByKey.get(key);
                args.add(Integer.toString(waiting.size()));
                args.addAll(waiting);
            }
            store.eval(LuaScript.REFRESH_WAITERS, recordKeys, args);
        }
        return true;
    }

    // ---- list ------------------------------------------------------------------------------------

    /**
     * An owner's locks come from its index (never a SCAN of the keyspace); all locks from a SCAN of
     * this namespace's lock records, on every master of a cluster. Either way the candidates are
     * only hints: each lock is read again, owner, token and lease in one script, and kept only if it
     * is held now (and by {@code owner}, when given). Sorted as core sorts keys ({@link
     * String#compareTo}), read in that order until {@code limit} are found.
     */
    @Override
    public Optional<List<HeldLock>> list(String owner, int limit) {
        Collection<String> candidates = owner == null ? scannedKeys() : indexedKeys(owner);
        List<String> sorted = new ArrayList<>(new TreeSet<>(candidates));
        List<HeldLock> held = new ArrayList<>();
        int chunk = Math.max(1, Math.min(BATCH, limit));
        for (int i = 0; i < sorted.size() && held.size() < limit; i += chunk)
            held.addAll(readLocks(sorted.subList(i, Math.min(sorted.size(), i + chunk)), owner));
        return Optional.of(List.copyOf(held.subList(0, Math.min(limit, held.size()))));
    }

    private Collection<String> scannedKeys() {
        List<String> found = new ArrayList<>();
        for (String record : store.scan(keys.lockPattern())) {
            String key = keys.keyOfLock(record);
            if (key != null) found.add(key);
        }
        return found;
    }

    private Collection<String> indexedKeys(String owner) {
        String index = keys.ownerIndex(owner);
        Set<String> indexed = new HashSet<>(store.call("read the lock index", jedis -> jedis.hkeys(index)));
        indexed.remove(INDEX_KEEPER);
        return indexed;
    }

    /** The locks among {@code userKeys} held now (by {@code owner} when non-null), in their order. */
    private List<HeldLock> readLocks(List<String> userKeys, String owner) {
        Map<String, HeldLock> found = new HashMap<>();
        for (List<String> group : groups(userKeys)) {
            List<String> recordKeys = new ArrayList<>(group.size());
            for (String key : group) recordKeys.add(keys.lock(key));
            List<?> reply = store.eval(LuaScript.LIST, recordKeys, List.of());
            long now = asLong(reply.get(0));
            for (int k = 0; k < group.size(); k++) {
                HeldLock lock = heldLock(
                        group.get(k),
                        asString(reply.get(1 + 3 * k)),
                        asString(reply.get(2 + 3 * k)),
                        asLong(reply.get(3 + 3 * k)),
                        now);
                if (lock != null && (owner == null || owner.equals(lock.owner()))) found.put(group.get(k), lock);
            }
        }
        List<HeldLock> inOrder = new ArrayList<>(found.size());
        for (String key : userKeys) if (found.containsKey(key)) inOrder.add(found.get(key));
        return inOrder;
    }

    /** What list.lua read for one key, or null when it is not a lock held now. */
    private static HeldLock heldLock(String key, String marker, String token, long remaining, long now) {
        if (remaining == -2 || token.isEmpty()) return null;
        String owner;
        if (marker.equals(ANONYMOUS)) owner = null;
        else if (marker.startsWith("o:")) owner = marker.substring(2);
        else return null;
        long fencingToken;
        try {
            fencingToken = Long.parseLong(token);
        } catch (NumberFormatException e) {
            return null; // not written by acquire.lua
        }
        return new HeldLock(key, owner, remaining < 0 ? null : Instant.ofEpochMilli(now + remaining), fencingToken);
    }

    @Override
    public Optional<Duration> pollInterval() {
        return Optional.of(settings.pollInterval);
    }

    @Override
    public void close() {
        subscriber.close();
        store.close();
    }

    @Override
    public String toString() {
        return "RedisLockingProvider{" + registration + ", " + settings.endpoint() + ", namespace=" + settings.namespace
                + "}";
    }

    // ---- helpers ---------------------------------------------------------------------------------

    RedisKeys keys() {
        return keys;
    }

    ReleaseSubscriber subscriber() {
        return subscriber;
    }

    RedisStore store() {
        return store;
    }

    private String nextAttempt() {
        return attemptPrefix + Long.toString(attempts.incrementAndGet(), 36);
    }

    /** 128 random bits, URL-safe Base64, then a separator that Base64 never yields. */
    private static String randomPrefix() {
        byte[] bytes = new byte[16];
        new SecureRandom().nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes) + ".";
    }

    /**
     * A lease in whole milliseconds for PEXPIRE, rounded up: core counts the lease it asked for from
     * before the call, so the store must never hold the key for less. A lease of 2.9 ms is 3 ms.
     */
    static long leaseMillis(Duration lease) {
        long millis = lease.toMillis();
        return lease.minusMillis(millis).isZero() ? Math.max(1, millis) : millis + 1;
    }

    /** Owners and anonymous locks never compare equal: an owner's marker always starts with "o:". */
    private static String marker(String owner) {
        return owner == null ? ANONYMOUS : "o:" + owner;
    }

    /** The keys by cluster slot, in ascending slot order; one group on a standalone server. */
    private List<List<String>> groups(List<String> userKeys) {
        if (!store.cluster()) return List.of(userKeys);
        TreeMap<Integer, List<String>> bySlot = new TreeMap<>();
        for (String key : userKeys)
            bySlot.computeIfAbsent(keys.slot(key), slot -> new ArrayList<>()).add(key);
        return new ArrayList<>(bySlot.values());
    }

    private static List<List<String>> batches(List<String> group) {
        if (group.size() <= BATCH) return List.of(group);
        List<List<String>> batches = new ArrayList<>();
        for (int i = 0; i < group.size(); i += BATCH) batches.add(group.subList(i, Math.min(group.size(), i + BATCH)));
        return batches;
    }

    static long asLong(Object value) {
        if (value instanceof Number number) return number.longValue();
        if (value instanceof byte[] bytes) return Long.parseLong(new String(bytes, StandardCharsets.UTF_8));
        return Long.parseLong(String.valueOf(value));
    }

    static String asString(Object value) {
        if (value instanceof byte[] bytes) return new String(bytes, StandardCharsets.UTF_8);
        return String.valueOf(value);
    }

    /** What acquire.lua answered for one slot group. */
    private static final class Reply {
        private final List<?> values;

        Reply(List<?> values) {
            this.values = values;
        }

        boolean acquired() {
            return asLong(values.get(0)) == 1;
        }

        boolean needsTicket() {
            return !acquired() && asLong(values.get(4)) == 1;
        }

        long token(int index) {
            return asLong(values.get(3 + 2 * index));
        }

        boolean isNew(int index) {
            return asLong(values.get(4 + 2 * index)) == 1;
        }

        List<String> reentered(List<String> group) {
            List<String> reentered = new ArrayList<>();
            for (int k = 0; k < group.size(); k++) if (!isNew(k)) reentered.add(group.get(k));
            return reentered;
        }

        /**
         * @param leaseApplied the lease a later step set on re-entered keys; null when this reply is
         *     the whole truth
         */
        AcquireResult.Acquired acquired(List<String> group, Duration leaseApplied) {
            Map<String, Long> tokens = new HashMap<>();
            for (int k = 0; k < group.size(); k++) tokens.put(group.get(k), token(k));
            long now = asLong(values.get(1));
            long remaining = asLong(values.get(2));
            if (leaseApplied != null) remaining = leaseMillis(leaseApplied);
            return new AcquireResult.Acquired(tokens, remaining < 0 ? null : Instant.ofEpochMilli(now + remaining));
        }

        AcquireResult.Blocked blocked(List<String> group) {
            String key = group.get((int) asLong(values.get(1)) - 1);
            long remaining = asLong(values.get(2));
            String head = asString(values.get(3));
            return new AcquireResult.Blocked(
                    key, remaining >= 0 ? Duration.ofMillis(remaining) : null, head.isEmpty() ? null : head);
        }
    }
}

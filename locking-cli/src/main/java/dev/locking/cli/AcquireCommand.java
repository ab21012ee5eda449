package dev.locking.cli;

import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.core.LockingModule;
import dev.locking.spi.Arguments;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "acquire",
        header = "Take keys (all or none) and keep them after the command exits.",
        description = "Takes KEY... (all or none) and keeps them after the command exits, until released or "
                + "expired. Exit code 1 when a key is held by another owner, or the --timeout ran out.")
final class AcquireCommand extends BaseCommand {

    @Parameters(arity = "1..*", paramLabel = "KEY", description = "Keys to take; sorted and de-duplicated.")
    List<String> keys;

    @Option(
            names = "--owner",
            paramLabel = "OWNER",
            description = "Owner to hold the lock as; release needs the same --owner. Default: an anonymous"
                    + " lock, released by release without --owner.")
    String owner;

    @Option(
            names = "--expire",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            description = "Lease: the lock frees itself this long after it was taken, by the store's clock"
                    + " (e.g. 30s, 500ms, 2m). Default: held until released.")
    Duration expire;

    @Option(
            names = "--timeout",
            paramLabel = "DURATION",
            converter = DurationConverter.class,
            description = "How long to wait for held keys, in arrival order. Default: 0, fail at once.")
    Duration timeout;

    @Option(
            names = "--provider",
            paramLabel = "ID",
            description = "Registration to use: lp_<id>, <id>, or an identifier one registration has."
                    + " Default: the default provider.")
    String provider;

    @Override
    int execute() {
        keys.forEach(key -> Arguments.requireText(key, "key"));
        LockOptions options = lockOptions(owner, provider);
        if (expire != null) options = options.expire(expire);
        if (timeout != null) options = options.timeout(timeout);
        requireConfiguredProviders("acquire");
        try (LockingModule module = openModule()) {
            target(module, provider).ifPresent(t -> noteIfProcessBound(module, t));
            Lease lease;
            try {
                lease = module.acquire(keys, options);
            } catch (LockAcquisitionException e) {
                return notAcquired(e);
            }
            print(lease);
            return ExitCodes.OK;
        }
    }

    private void print(Lease lease) {
        if (json()) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("acquired", true);
            result.put("provider", lease.provider());
            result.put("owner", lease.owner().orElse(null));
            result.put("expiresAt", lease.expiresAt().map(Instant::toString).orElse(null));
            List<Object> locks = new ArrayList<>();
            for (String key : lease.keys()) {
                Map<String, Object> lock = new LinkedHashMap<>();
                lock.put("key", key);
                lock.put("fencingToken", lease.fencingToken(key));
                locks.add(lock);
            }
            result.put("locks", locks);
            printJson(result);
            return;
        }
        PrintWriter out = out();
        out.println("Acquired " + lease.keys().size() + (lease.keys().size() == 1 ? " key" : " keys") + " in "
                + Terminal.text(lease.provider()) + ":");
        Instant now = Instant.now();
        Table table = new Table("KEY", "OWNER", "EXPIRES", "FENCING TOKEN");
        for (String key : lease.keys())
            table.row(
                    key,
                    lease.owner().orElse("(anonymous)"),
                    Format.expiry(lease.expiresAt().orElse(null), now),
                    lease.fencingToken(key));
        table.print(out);
    }

    private int notAcquired(LockAcquisitionException e) {
        boolean timedOut = e instanceof LockTimeoutException;
        if (json()) {
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("acquired", false);
            result.put("key", e.key());
            result.put("timedOut", timedOut);
            result.put("message", e.getMessage());
            printJson(result);
        } else {
            err().println("locking: not acquired: " + Terminal.text(e.getMessage())
                    + (timedOut ? " (key " + Terminal.quoted(e.key()) + " was still held)" : "")
                    + "; `locking locks` shows who holds what");
        }
        return ExitCodes.NOT_DONE;
    }
}

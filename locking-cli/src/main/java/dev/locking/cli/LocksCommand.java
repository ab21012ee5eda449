package dev.locking.cli;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import dev.locking.spi.HeldLock;
import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

@Command(
        name = "locks",
        header = "List the locks held now: key, owner, expiry, fencing token.",
        description = "The locks held now (unexpired) in one provider, sorted by key: key, owner, expiry and "
                + "fencing token. A provider that cannot list its locks says so (exit code 2).")
final class LocksCommand extends BaseCommand {

    @Option(
            names = "--provider",
            paramLabel = "ID",
            description = "Registration: lp_<id>, <id>, or an identifier. Default: the default provider.")
    String provider;

    @Option(names = "--owner", paramLabel = "OWNER", description = "Only this owner's locks.")
    String owner;

    @Option(
            names = "--limit",
            paramLabel = "N",
            defaultValue = "100",
            description = "At most this many locks (default: ${DEFAULT-VALUE}).")
    int limit;

    @Override
    int execute() {
        if (limit < 1) throw new ParameterException(spec.commandLine(), "--limit must be 1 or more, was " + limit);
        LockOptions options = lockOptions(owner, provider);
        requireConfiguredProviders("locks");
        try (LockingModule module = openModule()) {
            target(module, provider).ifPresent(t -> noteIfProcessBound(module, t));
            // One more than asked, to tell the user when the list was cut.
            List<HeldLock> held = module.locks(options, limit == Integer.MAX_VALUE ? limit : limit + 1);
            boolean truncated = held.size() > limit;
            if (truncated) held = held.subList(0, limit);
            String address = target(module, provider).map(ProviderInfo::address).orElse(provider);
            if (json()) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("provider", address);
                result.put("owner", owner);
                List<Object> locks = new ArrayList<>();
                for (HeldLock lock : held) {
                    Map<String, Object> item = new LinkedHashMap<>();
                    item.put("key", lock.key());
                    item.put("owner", lock.owner());
                    item.put(
                            "expiresAt",
                            lock.expiresAt() == null ? null : lock.expiresAt().toString());
                    item.put("fencingToken", lock.fencingToken());
                    locks.add(item);
                }
                result.put("locks", locks);
                result.put("truncated", truncated);
                printJson(result);
                return ExitCodes.OK;
            }
            PrintWriter out = out();
            String whose = owner == null ? "" : " of owner " + Terminal.quoted(owner);
            if (held.isEmpty()) {
                out.println("No locks" + whose + " held in " + Terminal.text(address));
                return ExitCodes.OK;
            }
            out.println(held.size() + (held.size() == 1 ? " lock" : " locks") + whose + " held in "
                    + Terminal.text(address)
                    + (truncated ? " (the first " + limit + "; raise --limit for more)" : "") + ":");
            Instant now = Instant.now();
            Table table = new Table("KEY", "OWNER", "EXPIRES", "FENCING TOKEN");
            for (HeldLock lock : held)
                table.row(
                        lock.key(),
                        lock.owner() == null ? "(anonymous)" : lock.owner(),
                        Format.expiry(lock.expiresAt(), now),
                        lock.fencingToken());
            table.print(out);
            return ExitCodes.OK;
        }
    }
}

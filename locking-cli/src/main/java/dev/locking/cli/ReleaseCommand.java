package dev.locking.cli;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import dev.locking.spi.Arguments;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        name = "release",
        header = "Release keys held by an owner (or anonymously).",
        description = "Releases KEY... held by --owner (without --owner: held anonymously). Never frees another "
                + "owner's lock. Exit code 1 unless every key was held by that owner and is now free.")
final class ReleaseCommand extends BaseCommand {

    @Parameters(arity = "1..*", paramLabel = "KEY", description = "Keys to release.")
    List<String> keys;

    @Option(
            names = "--owner",
            paramLabel = "OWNER",
            description = "Owner the keys are held by. Default: release anonymous locks.")
    String owner;

    @Option(
            names = "--provider",
            paramLabel = "ID",
            description = "Registration: lp_<id>, <id>, or an identifier. Default: the default provider.")
    String provider;

    @Override
    int execute() {
        keys.forEach(key -> Arguments.requireText(key, "key"));
        LockOptions options = lockOptions(owner, provider);
        requireConfiguredProviders("release");
        try (LockingModule module = openModule()) {
            target(module, provider).ifPresent(t -> noteIfProcessBound(module, t));
            boolean released = module.release(keys, options);
            String address = target(module, provider).map(ProviderInfo::address).orElse(provider);
            List<String> sorted = List.copyOf(new TreeSet<>(keys));
            if (json()) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("released", released);
                result.put("provider", address);
                result.put("owner", owner);
                result.put("keys", sorted);
                printJson(result);
            } else if (released) {
                out().println("Released "
                        + String.join(", ", sorted.stream().map(Terminal::text).toList()) + " in "
                        + Terminal.text(address));
            } else {
                err().println("locking: not released: "
                        + (sorted.size() == 1
                                ? Terminal.quoted(sorted.get(0)) + " was not"
                                : "not every one of "
                                        + sorted.stream().map(Terminal::text).toList() + " was")
                        + " held by " + (owner == null ? "an anonymous lock" : "owner " + Terminal.quoted(owner))
                        + " in " + Terminal.text(address) + " (held by another owner, expired, or never taken)"
                        + (sorted.size() == 1 ? "" : "; the keys that owner did hold are free now"));
            }
            return released ? ExitCodes.OK : ExitCodes.NOT_DONE;
        }
    }
}

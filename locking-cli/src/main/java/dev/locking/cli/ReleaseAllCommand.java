package dev.locking.cli;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "release-all",
        header = "Release every lock of one owner (or every anonymous lock).",
        description = "Releases every lock of --owner (without --owner: every anonymous lock) in one provider, "
                + "and prints how many. Releasing none is not an error.")
final class ReleaseAllCommand extends BaseCommand {

    @Option(
            names = "--owner",
            paramLabel = "OWNER",
            description = "Owner whose locks to release. Default: the anonymous locks.")
    String owner;

    @Option(
            names = "--provider",
            paramLabel = "ID",
            description = "Registration: lp_<id>, <id>, or an identifier. Default: the default provider.")
    String provider;

    @Override
    int execute() {
        LockOptions options = lockOptions(owner, provider);
        requireConfiguredProviders("release-all");
        try (LockingModule module = openModule()) {
            target(module, provider).ifPresent(t -> noteIfProcessBound(module, t));
            int released = module.releaseAll(options);
            String address = target(module, provider).map(ProviderInfo::address).orElse(provider);
            if (json()) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("released", released);
                result.put("provider", address);
                result.put("owner", owner);
                printJson(result);
            } else {
                out().println("Released " + released + (released == 1 ? " lock" : " locks")
                        + (owner == null ? " held anonymously" : " of owner " + Terminal.quoted(owner)) + " in "
                        + Terminal.text(address));
            }
            return ExitCodes.OK;
        }
    }
}

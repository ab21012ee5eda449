package dev.locking.cli;

import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(
        name = "migrate",
        header = "Apply every registered provider's migrations.",
        description = "Applies every registered provider's schema migrations to its store (idempotent) and prints "
                + "what it applied. Providers without migrations report that they are up to date.")
final class MigrateCommand extends BaseCommand {

    @Override
    int execute() {
        ConfigLookup.Loaded config = configuration();
        if (!config.providersConfigured())
            err().println("locking: note: no locking.providers configured (configuration: "
                    + Terminal.text(config.source())
                    + "): only the in-memory default is registered, and it has nothing to migrate");
        try (LockingModule module = openModule()) {
            Map<String, List<String>> applied = module.migrations();
            Map<String, ProviderInfo> infos = new LinkedHashMap<>();
            module.providers().forEach(i -> infos.put(i.address(), i));
            if (json()) {
                List<Object> registrations = new ArrayList<>();
                applied.forEach((address, lines) -> {
                    Map<String, Object> item = new LinkedHashMap<>();
                    item.put("provider", address);
                    item.put("identifier", infos.get(address).identifier());
                    item.put("applied", lines);
                    registrations.add(item);
                });
                printJson(Map.of("migrations", registrations));
                return ExitCodes.OK;
            }
            PrintWriter out = out();
            applied.forEach((address, lines) -> {
                String who = Terminal.text(address) + " ("
                        + Terminal.text(infos.get(address).identifier()) + ")";
                if (lines.isEmpty()) out.println(who + ": up to date, nothing to apply");
                else {
                    out.println(who + ": applied " + lines.size() + (lines.size() == 1 ? " migration" : " migrations"));
                    lines.forEach(line -> out.println("  " + Terminal.text(line)));
                }
            });
            return ExitCodes.OK;
        }
    }
}

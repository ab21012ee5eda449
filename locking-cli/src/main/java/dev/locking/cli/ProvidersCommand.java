package dev.locking.cli;

import dev.locking.core.FoundProvider;
import dev.locking.core.LockingModule;
import dev.locking.core.ProviderInfo;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

@Command(
        name = "providers",
        header = "Show the providers found, the registrations, the default and why.",
        description = "Every provider jar found on the classpath, every registration of the configuration, which "
                + "one is the default and why. Does not contact any store.")
final class ProvidersCommand extends BaseCommand {

    @Override
    int execute() {
        ConfigLookup.Loaded config = configuration();
        try (LockingModule module = openModule()) {
            List<FoundProvider> found = module.foundProviders();
            List<ProviderInfo> registered = module.providers();
            if (json()) {
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("configuration", config.source());
                List<Object> foundJson = new ArrayList<>();
                for (FoundProvider f : found) {
                    Map<String, Object> item = new LinkedHashMap<>();
                    item.put("identifier", f.identifier());
                    item.put("factory", f.factoryClass());
                    item.put("description", f.description());
                    foundJson.add(item);
                }
                result.put("found", foundJson);
                List<Object> registrations = new ArrayList<>();
                for (ProviderInfo info : registered) {
                    Map<String, Object> item = new LinkedHashMap<>();
                    item.put("address", info.address());
                    item.put("id", info.id());
                    item.put("identifier", info.identifier());
                    item.put("description", info.description());
                    item.put("default", info.isDefault());
                    item.put("reason", info.reason());
                    registrations.add(item);
                }
                result.put("registrations", registrations);
                result.put(
                        "default",
                        registered.stream()
                                .filter(ProviderInfo::isDefault)
                                .map(ProviderInfo::address)
                                .findFirst()
                                .orElse(null));
                printJson(result);
                return ExitCodes.OK;
            }
            PrintWriter out = out();
            out.println("Configuration: " + Terminal.text(config.source()));
            out.println();
            out.println("Provider jars on the classpath:");
            Table jars = new Table("IDENTIFIER", "DESCRIPTION", "FACTORY");
            found.forEach(f -> jars.row(f.identifier(), f.description(), f.factoryClass()));
            jars.print(out);
            out.println();
            out.println("Registrations:");
            Table registrations = new Table("ADDRESS", "IDENTIFIER", "DEFAULT", "WHY");
            registered.forEach(
                    i -> registrations.row(i.address(), i.identifier(), i.isDefault() ? "yes" : "no", i.reason()));
            registrations.print(out);
            return ExitCodes.OK;
        }
    }
}

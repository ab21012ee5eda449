package dev.locking.core;

/**
 * One registration of a {@link LockingModule}.
 *
 * @param id the registration's id, e.g. {@code "postgres-lock"}
 * @param address how calls name it: {@code "lp_" + id}
 * @param identifier the provider identifier it resolves, e.g. {@code "locking-postgres"}
 * @param description what the provider is, from its jar
 * @param isDefault whether calls without {@code provider(...)} go to it
 * @param reason why it is the default (or why not), in words fit for a log line
 */
public record ProviderInfo(
        String id, String address, String identifier, String description, boolean isDefault, String reason) {}

package dev.locking.core;

/**
 * A provider factory found on the classpath, registered or not.
 *
 * @param identifier what {@code resolve} names, e.g. {@code "locking-redis"}
 * @param factoryClass the factory's class name
 * @param description what the provider is, from its jar
 */
public record FoundProvider(String identifier, String factoryClass, String description) {}

package dev.locking.spi;

import dev.locking.api.LockingService;
import java.nio.charset.StandardCharsets;

/** The checks every key and owner id passes, in one place for the API, core and providers. */
public final class Arguments {
    private Arguments() {}

    /**
     * Rejects null, blank, over-long ({@value LockingService#MAX_KEY_BYTES} bytes of UTF-8),
     * NUL-carrying and invalid-Unicode (unpaired surrogate) values with an {@link IllegalArgumentException} that names {@code name}. Any
     * other character is ordinary: keys reach stores only as bound parameters or script arguments.
     */
    public static String requireText(String value, String name) {
        if (value == null) throw new IllegalArgumentException(name + " must not be null");
        if (value.isBlank()) throw new IllegalArgumentException(name + " must not be blank");
        // PostgreSQL text cannot hold NUL, so no store gets a key it would silently mangle.
        if (value.indexOf('\0') >= 0) throw new IllegalArgumentException(name + " must not contain the NUL character");
        // A lone surrogate has no UTF-8 form: drivers encode it as '?', so two keys would collide.
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < value.length() && Character.isLowSurrogate(value.charAt(i + 1)))
                i++;
            else if (Character.isSurrogate(c))
                throw new IllegalArgumentException(name + " must be valid Unicode: unpaired surrogate at index " + i);
        }
        if (value.length() * 3 > LockingService.MAX_KEY_BYTES) {
            int bytes = value.getBytes(StandardCharsets.UTF_8).length;
            if (bytes > LockingService.MAX_KEY_BYTES)
                throw new IllegalArgumentException(
                        name + " must be at most " + LockingService.MAX_KEY_BYTES + " bytes of UTF-8, was " + bytes);
        }
        return value;
    }
}

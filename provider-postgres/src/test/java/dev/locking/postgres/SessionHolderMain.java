package dev.locking.postgres;

import dev.locking.api.LockOptions;
import dev.locking.core.LockingModule;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * A child JVM for {@link PostgresSessionLivenessTest}: opens a session-mode module, takes a key,
 * prints {@code HELD <token>}, then holds it until killed. Arguments: url, user, schema,
 * session-timeout, key, lease in milliseconds (0: none).
 */
public final class SessionHolderMain {
    private SessionHolderMain() {}

    public static void main(String[] args) throws Exception {
        Map<String, Object> options = new HashMap<>();
        options.put("url", args[0]);
        options.put("user", args[1]);
        options.put("schema", args[2]);
        options.put("mode", "session");
        options.put("session-timeout", args[3]);
        long leaseMillis = Long.parseLong(args[5]);
        LockingModule module = TestModules.module(options, "holder");
        LockOptions who = LockOptions.defaults().owner("child");
        if (leaseMillis > 0) who = who.expire(Duration.ofMillis(leaseMillis));
        long token = module.acquire(args[4], who).fencingToken(args[4]);
        System.out.println("HELD " + token);
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
